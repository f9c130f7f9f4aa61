"""A tracking server that stops answering mid-sweep and comes back: the sweep goes on, and every
trial's record reaches MLflow once the server answers again."""

import json
import threading
import time

import pytest
from mlflow.tracking import MlflowClient

from kdssm.config import RunConfig
from kdssm.tracking.tracker import HTTP_DEFAULTS
from kdssm_tune.sweep import run_sweep

from .conftest import MlflowServer, free_port


@pytest.mark.slow
def test_sweep_survives_a_tracking_server_outage(tmp_path, teacher_run, ray_local, monkeypatch):
    for name in HTTP_DEFAULTS:  # kdssm's own bounds on MLflow's HTTP client, not the test's
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "server").mkdir()
    server = MlflowServer(tmp_path / "server", free_port())
    server.start()
    save_dir = tmp_path / "sweep"
    cfg = RunConfig.from_file(teacher_run / "config.yaml").with_overrides(
        {
            "model": {"use_selectivity": False, "model_dim": 4, "state_dim": 8, "num_layers": 2, "dropout": 0.0},
            "training": {"num_epochs": 3, "batch_size": 16, "max_minutes": 0},
            "search": {
                "num_samples": 3,
                "max_concurrent_trials": 1,
                "early_stopping": "none",
                "space": {"model_dim": {"choices": [2, 3, 4]}},
            },
            "tracking": {"tracking_uri": server.url, "experiment": "outage", "register_front": False},
        }
    )
    events = []

    def finished() -> int:
        return len(list(save_dir.glob("trials/*/summary.json")))

    def outage():
        deadline = time.monotonic() + 300
        while finished() < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        server.stop()
        events.append(("down", finished()))
        while finished() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        server.start()
        events.append(("up", finished()))

    thread = threading.Thread(target=outage, daemon=True)
    thread.start()
    try:
        front = run_sweep(cfg, teacher_run, save_dir, progress=False)
        thread.join(timeout=120)
        assert [e for e, _ in events] == ["down", "up"] and events[1][1] >= 2  # a trial ended while it was down
        client = MlflowClient(server.url)
        exp = client.get_experiment_by_name("outage")
        runs = client.search_runs([exp.experiment_id], max_results=50)
        trials = [r for r in runs if r.data.tags.get("kdssm.role") == "trial"]
        assert len(trials) == 3 and all(r.info.status == "FINISHED" and "accuracy" in r.data.metrics for r in trials)
        results = (save_dir / "tune" / "sweep").glob("run_trial_*/result.json")
        pids = {json.loads(row)["pid"] for path in results for row in path.read_text().splitlines() if row.strip()}
        assert len(pids) == 1  # one trial after another in one reused process: no start-up between them
        (parent,) = [r for r in runs if r.data.tags.get("kdssm.role") == "sweep"]
        assert parent.info.status == "FINISHED"
        assert parent.data.metrics["hypervolume"] == pytest.approx(front["hypervolume"])
    finally:
        server.stop()
