"""A sweep whose MLflow server goes away for a while: does training slow down? (issue 27: no more than
10 % of the trial throughput lost over a 2-minute outage)

    python benchmarks/tracking_outage.py [--outage_s 120] [--before_s 90] [--samples 320]

One sweep of tiny mini students (one trial at a time, early stopping off) of an untrained tiny teacher,
tracked by a real `mlflow server` on 127.0.0.1. --before_s after the first epoch anywhere, the server is
stopped; --outage_s later it is started again (its start-up, about a core for tens of seconds, is not
counted as the outage: on 2 cores it would take the trials' CPU). Throughput is finished epochs per
second over all trials (each trial's history.jsonl stamps its epochs): in the --before_s window before
the outage, during the outage, and from its end to the last epoch (trials must outlast it). Afterwards
every trial must be in MLflow, FINISHED.
Writes benchmarks/results/tracking_outage.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlflow.tracking import MlflowClient  # noqa: E402

from kdssm_tune.sweep import run_sweep  # noqa: E402
from tests.helpers import teacher_folder  # noqa: E402  (the suite's tiny teacher folder, reused)
from tests.tune.conftest import MlflowServer, free_port  # noqa: E402  (the suite's real server, reused)


def epoch_stamps(save_dir: Path) -> list[float]:
    """End-of-epoch times of every trial so far (history.jsonl rows), sorted."""
    stamps = []
    for path in save_dir.glob("trials/*/history.jsonl"):
        stamps += [json.loads(line)["time"] for line in path.read_text().splitlines() if line.strip()]
    return sorted(stamps)


def rate(stamps: list[float], start: float, end: float) -> float:
    """Epochs finished per second in [start, end)."""
    return sum(start <= t < end for t in stamps) / (end - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage_s", type=float, default=120.0)
    parser.add_argument("--before_s", type=float, default=90.0)
    parser.add_argument("--samples", type=int, default=320)  # about 3.2 epochs/s here: 4-epoch trials, 400 s
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kdssm-outage-"))
    teacher = work / "teacher"
    cfg, _ = teacher_folder(
        teacher,
        {"model_dim": 4, "state_dim": 8, "num_layers": 2, "use_selectivity": True, "dropout": 0.0},
        {"preset": "mini", "train_size": 256, "val_size": 32, "test_size": 32},
    )
    (work / "server").mkdir()
    server = MlflowServer(work / "server", free_port())
    server.start()
    sweep_cfg = cfg.with_overrides(
        {
            "model": {"use_selectivity": False, "model_dim": 4, "state_dim": 8, "num_layers": 2},
            "training": {"num_epochs": 4, "batch_size": 16, "max_minutes": 0},
            "search": {
                "num_samples": args.samples,
                "max_concurrent_trials": 1,
                "early_stopping": "none",
                "space": {"model_dim": {"choices": [2, 3, 4]}, "temperature": {"low": 1.0, "high": 4.0}},
            },
            "tracking": {"tracking_uri": server.url, "experiment": "outage", "register_front": False},
        }
    )
    save_dir = work / "sweep"
    marks: dict[str, float] = {}

    def outage():
        while not epoch_stamps(save_dir):
            time.sleep(0.2)
        time.sleep(args.before_s)
        marks["down"] = time.time()
        server.stop()
        time.sleep(args.outage_s)
        marks["restart"] = time.time()
        server.start()
        marks["up"] = time.time()

    thread = threading.Thread(target=outage, daemon=True)
    thread.start()
    started = time.time()
    try:
        run_sweep(sweep_cfg, teacher, save_dir, progress=False)
        ended = time.time()
        thread.join(timeout=args.outage_s + 120)
        stamps = epoch_stamps(save_dir)
        if marks.get("up", float("inf")) > stamps[-1]:  # the sweep's end waits for MLflow: trials must outlast it
            raise SystemExit("the last trial ended before the outage did: raise --samples")
        client = MlflowClient(server.url)
        runs = client.search_runs([client.get_experiment_by_name("outage").experiment_id], max_results=500)
        trials = [r for r in runs if r.data.tags.get("kdssm.role") == "trial"]
    finally:
        server.stop()
    before = rate(stamps, marks["down"] - args.before_s, marks["down"])
    during = rate(stamps, marks["down"], marks["restart"])  # the server's own start-up (CPU) is not the outage
    after = rate(stamps, marks["up"], stamps[-1])
    result = {
        "command": "python benchmarks/tracking_outage.py " + " ".join(sys.argv[1:]),
        "outage_s": args.outage_s,
        "trials": args.samples,
        "epochs_per_s_before": round(before, 4),
        "epochs_per_s_during": round(during, 4),
        "epochs_per_s_after": round(after, 4),
        "server_restart_s": round(marks["up"] - marks["restart"], 1),
        "throughput_during_over_before": round(during / before, 3),
        "trials_in_mlflow_finished": sum(r.info.status == "FINISHED" for r in trials),
        "sweep_wall_s": round(ended - started, 1),
    }
    print(json.dumps(result, indent=2))
    print(f"wrote {write_result('tracking_outage', result)}")


if __name__ == "__main__":
    main()
