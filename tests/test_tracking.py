"""kdssm.tracking on its own, over a sqlite store in a temporary folder: experiment kind, provenance,
writes that never repeat, datasets, and a crashed sweep's parent run ended."""

import pytest
from mlflow.tracking import MlflowClient

from kdssm import tracking


@pytest.fixture
def tracker(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return tracking.SweepTracker(uri, "unit", tmp_path / "sweep")


def test_experiment_is_for_model_training_and_runs_say_where_they_came_from(tracker):
    client = MlflowClient(tracker.uri)
    exp = client.get_experiment_by_name("unit")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    tags = client.get_run(tracker.trial("t1", {"model_dim": 4})).data.tags
    assert tags["mlflow.source.name"].startswith("kdssm") and tags["kdssm.version"] and tags["mlflow.user"]
    assert tags["kdssm.role"] == "trial" and tags["mlflow.parentRunId"] == tracker.parent_id


def test_final_figures_and_datasets_are_logged_once(tracker):
    client = MlflowClient(tracker.uri)
    run_id = tracker.trial("t1", {})
    tracker.log_new_metrics(run_id, {"accuracy": 0.9, "params": 100})
    tracker.log_new_metrics(run_id, {"accuracy": 0.8, "nmse_db": -10.0})  # a re-run: accuracy kept as first
    assert [m.value for m in client.get_metric_history(run_id, "accuracy")] == [0.9]
    assert client.get_run(run_id).data.metrics["nmse_db"] == -10.0
    record = tracking.dataset_record("mini-train", "ab" * 40, {"preset": "mini", "seed": 1}, 64, 256, True)
    assert len(record["digest"]) == 36 and record["source_type"] == "code"
    tracker.log_datasets(run_id, [record | {"context": "training"}])
    tracker.log_datasets(run_id, [record | {"context": "training"}])
    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 1 and inputs[0].dataset.name == "mini-train" and inputs[0].tags[0].value == "training"
    assert tracker.last_step(run_id, "val_nmse_db") == 0
    tracker.log_metrics(run_id, {"val_nmse_db": -5.0}, step=3)
    assert tracker.last_step(run_id, "val_nmse_db") == 3


@pytest.mark.parametrize("status", ["FAILED", "KILLED"])
def test_a_crashed_or_interrupted_sweep_does_not_stay_running(tracker, status):
    client = MlflowClient(tracker.uri)
    assert client.get_run(tracker.parent_id).info.status == "RUNNING"
    tracking.end_sweep_run(tracker.uri, "unit", tracker.sweep_dir, status)
    assert client.get_run(tracker.parent_id).info.status == status
    tracking.end_sweep_run("http://127.0.0.1:9", "unit", tracker.sweep_dir, status)  # no server: no new error
