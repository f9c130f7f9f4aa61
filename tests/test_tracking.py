"""kdssm.tracking on its own, over a sqlite store in a temporary folder: experiment kind, provenance,
writes that never repeat, datasets, and a crashed sweep's parent run ended."""

import json

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


def test_models_are_logged_and_registered_through_the_client_only(tracker, tmp_path):
    """A pyfunc model of a checkpoint, registered once, loads back equal to the kdssm model; MLflow's global
    state (tracking URI, active run) is never touched."""
    import mlflow
    import torch

    from kdssm.checkpoint import save_model
    from kdssm.models import SarSSM

    before = mlflow.get_tracking_uri()
    model = SarSSM(model_dim=2, state_dim=8, num_layers=1, use_selectivity=False).eval()
    save_model(model, tmp_path / "model.ckpt", "student")
    run_id = tracker.trial("t1", {})
    figures, tags = {"accuracy": 0.9}, {"accuracy": 0.912345678, "params": 120}
    version = tracker.register("unit-students", run_id, tmp_path / "model.ckpt", figures, tags, "student-2-8-1-120p")
    assert tracker.register("unit-students", run_id, tmp_path / "model.ckpt", figures, tags, "x") == version
    assert mlflow.get_tracking_uri() == before and mlflow.active_run() is None
    client = MlflowClient(tracker.uri)
    logged = client.search_logged_models([tracker.experiment_id])
    assert len(logged) == 1 and logged[0].source_run_id == run_id and logged[0].status.to_int() == 2  # READY
    assert logged[0].name == "student-2-8-1-120p"
    assert client.get_model_version("unit-students", version).tags == {"accuracy": "0.9123", "params": "120"}
    # the logged model names its registered version (MLflow's "Registered models" column)
    assert json.loads(logged[0].tags["mlflow.modelVersions"]) == [{"name": "unit-students", "version": version}]
    assert client.get_run(run_id).data.metrics == {"accuracy": 0.9}  # the run's own figure, no copy of it
    loaded = mlflow.pyfunc.load_model(logged[0].artifact_location)  # models:/ would need the global URI
    x = torch.randn(3, 256, 2, dtype=torch.complex64)  # (B, L, 2)
    got = loaded.predict(tracking.to_pyfunc_input(x))  # (B, L, 2) float32
    with torch.no_grad():
        want = torch.view_as_real(model(x)).reshape(3, 256, 2).numpy()
    assert abs(got - want).max() < 1e-5


def test_tracking_uris_are_checked_in_one_line(tmp_path):
    assert tracking.resolve_uri("", tmp_path).startswith("sqlite:///") and tracking.resolve_uri("http://h:1", tmp_path)
    with pytest.raises(tracking.TrackingError, match="folder .* does not exist"):
        tracking.check_reachable(f"sqlite:///{tmp_path / 'missing' / 'mlflow.db'}")
    with pytest.raises(tracking.TrackingError, match="unsupported scheme 'ftp'"):
        tracking.check_reachable("ftp://host/x")
    tracking.check_reachable(f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_values_are_flattened_and_only_finite_numbers_become_metrics():
    assert tracking.flat("", {"a": {"b": 1, "c": {"d": "x"}}, "e": 2}) == {"a.b": 1, "a.c.d": "x", "e": 2}
    metrics = tracking.scalar_metrics(
        {"acc": 0.9, "n": 3, "ok": True, "bad": float("nan"), "s": "x", "t": {"v": 1}}, "m."
    )
    assert metrics == {"m.acc": 0.9, "m.n": 3.0, "m.t.v": 1.0}


def test_the_pyfunc_model_is_saved_without_mlflow_warnings_in_the_users_output(tmp_path):
    import warnings

    from mlflow.models import Model

    from kdssm.checkpoint import save_model
    from kdssm.models import SarSSM
    from kdssm.tracking.pyfunc import save_pyfunc

    save_model(SarSSM(model_dim=2, state_dim=4, num_layers=1), tmp_path / "model.ckpt", "student")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        save_pyfunc(tmp_path / "pyfunc", tmp_path / "model.ckpt", Model())
    assert not [w for w in caught if "input example" in str(w.message)]  # the signature is given instead
    assert (tmp_path / "pyfunc" / "MLmodel").is_file()
