"""A smoke sweep of 4 students on a local Ray, recorded on a real MLflow server; checked through MlflowClient."""
import json

import mlflow
import pytest
import torch
from mlflow.tracking import MlflowClient

from kdssm import metrics
from kdssm.cli import main
from kdssm.config import RunConfig
from kdssm.data.datasets import load_split
from kdssm.tracking import to_pyfunc_input
from tune.sweep import run_sweep

SPACE = {"model_dim": {"choices": [2, 4]}, "num_layers": {"low": 1, "high": 2}, "temperature": {"low": 1.0, "high": 4.0}}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, teacher_run, mlflow_server):
    import ray
    if not ray.is_initialized():
        import logging
        ray.init(num_cpus=4, include_dashboard=False, logging_level=logging.WARNING,
                 logging_config=ray.LoggingConfig(log_level="ERROR"))
    save_dir = tmp_path_factory.mktemp("sweep") / "sweep"
    cfg = RunConfig.from_file(teacher_run / "config.yaml").with_overrides({
        "model": {"use_selectivity": False, "model_dim": 4, "state_dim": 8, "num_layers": 2, "dropout": 0.0},
        "data": {"unlabelled_size": 16},  # the teacher labels them for every trial
        "training": {"num_epochs": 3, "batch_size": 16, "max_minutes": 0},
        "distillation": {"curriculum_epochs": 1},
        "search": {"num_samples": 4, "grace_epochs": 1, "reduction_factor": 2, "space": SPACE},
        "tracking": {"tracking_uri": mlflow_server, "experiment": "smoke"}})
    front = run_sweep(cfg, teacher_run, save_dir, progress=False)
    return save_dir, front, cfg, mlflow_server


@pytest.mark.slow
def test_sweep_writes_the_output_contract(sweep):
    save_dir, front, _, _ = sweep
    stored = json.loads((save_dir / "pareto.json").read_text())
    assert stored == json.loads(json.dumps(front))
    assert set(stored) >= {"teacher", "baseline", "hypervolume", "front"} and 0.0 <= stored["hypervolume"] <= 1.0
    assert stored["baseline"]["params"] == 0 and stored["baseline"]["name"] == "matched filter"
    summary = json.loads((save_dir / stored["front"][0]["checkpoint"]).with_name("summary.json").read_text())
    assert stored["baseline"]["accuracy"] == summary["matched_filter"]["accuracy"]  # the same test columns
    for entry in stored["front"]:
        assert set(entry) >= {"trial_id", "config", "metrics", "checkpoint", "beats_baseline"}
        assert entry["beats_baseline"] == (entry["metrics"]["accuracy"] > stored["baseline"]["accuracy"])
        assert (save_dir / entry["checkpoint"]).is_file()  # relative to pareto.json's folder
    assert (save_dir / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list((save_dir / "tune" / "sweep").glob("run_trial_*"))) == 4
    assert len(list((save_dir / "teacher_cache").glob("*.pt"))) == 3  # train, val, unlabelled: once per sweep


@pytest.mark.slow
def test_mlflow_holds_parent_children_teacher_and_registry(sweep):
    save_dir, front, cfg, uri = sweep
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("smoke")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    roles = {}
    for run in runs:
        roles.setdefault(run.data.tags.get("kdssm.role"), []).append(run)
    (parent,) = roles["sweep"]
    assert len(roles["trial"]) == 4 and len(roles["teacher"]) == 1
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in roles["trial"] + roles["teacher"])
    assert parent.data.metrics["hypervolume"] == pytest.approx(front["hypervolume"])
    for key in ("accuracy", "nmse_db", "nmse_valid_db", "latency_ms_per_column"):
        assert parent.data.metrics[f"matched_filter.{key}"] == pytest.approx(front["baseline"][key])
    assert parent.data.metrics["front_beating_matched_filter"] == sum(e["beats_baseline"] for e in front["front"])
    parent_files = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert {"pareto.json", "pareto.png", "sweep.yaml", "comparison.md", "search_space.json"} <= parent_files
    finished = [r for r in roles["trial"] if r.info.status == "FINISHED"]
    assert finished and all("accuracy" in r.data.metrics for r in finished)
    one = finished[0]
    history = client.get_metric_history(one.info.run_id, "val_nmse_db")
    assert [m.step for m in history] == list(range(1, len(history) + 1)) and len(history) >= 1
    assert "model_dim" in one.data.params
    files = {f.path for f in client.list_artifacts(one.info.run_id)}
    assert {"summary.json", "model.ckpt", "history.jsonl"} <= files
    # the registry: every front student, aliases, and a version that loads and reproduces its accuracy
    name = "smoke-students"
    versions = client.search_model_versions(f"name = '{name}'")
    assert len(versions) == len(front["front"])
    best = client.get_model_version_by_alias(name, "best-accuracy")
    client.get_model_version_by_alias(name, "smallest")
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(f"models:/{name}@best-accuracy")
    test = load_split(cfg.data, "test")
    y_hat = torch.view_as_complex(torch.as_tensor(model.predict(to_pyfunc_input(test.x))).reshape(
        *test.x.shape[:2], 1, 2))  # (N, L, 1) complex64
    logged = client.get_run(best.run_id).data.metrics["accuracy"]
    assert metrics.accuracy(y_hat, test.y) == pytest.approx(logged, abs=1e-5)
    assert float(json.loads(best.tags["accuracy"])) == pytest.approx(logged, abs=1e-9)
    assert type(model.unwrap_python_model().model).__name__ == "SarSSM"


@pytest.mark.slow
def test_pareto_command_prints_the_front(sweep, capsys):
    save_dir, front, _, _ = sweep
    assert main(["pareto", "--save_dir", str(save_dir)]) == 0
    out = capsys.readouterr().out
    assert "teacher" in out and "matched filter" in out and f"{front['hypervolume']:.4f}" in out
    for entry in front["front"]:
        assert entry["trial_id"] in out
