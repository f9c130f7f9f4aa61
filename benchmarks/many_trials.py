"""A sweep of hundreds of short trials on this machine: does the driver keep up? (issue 29)

    python benchmarks/many_trials.py --teacher runs/demo/teacher [--samples 200]

Tiny students (model_dim 2-4, one or two layers) of a few steps each (64 training columns, 1 epoch),
two at a time, early stopping off, tracked by MLflow on sqlite. Measured: the sweep's wall time; each
trial's function time (trial_seconds, from its final Tune result); the driver's overhead per trial,
the idle time of a slot between one trial's end and the next one's start (trials assigned to the two
slots in order of their start; median and mean); and whether every trial is present exactly once in
Optuna, in MLflow and in pareto.json (front plus dominated). Writes benchmarks/results/many_trials.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kdssm.config import RunConfig  # noqa: E402
from kdssm.ray_local import start_local_ray  # noqa: E402
from kdssm_tune.sweep import run_sweep  # noqa: E402

SPACE = {
    "model_dim": {"choices": [2, 3, 4]},
    "num_layers": {"choices": [1, 2]},
    "state_dim": {"choices": [8, 16]},
    "temperature": {"low": 1.0, "high": 4.0},
    "beta": {"low": 0.05, "high": 0.5},
}


def trial_times(save_dir: Path) -> list[tuple[float, float, str]]:
    """(start, end, trial id) of every trial, from the last line of its Tune result.json."""
    out = []
    for result in (save_dir / "tune" / "sweep").glob("*/result.json"):
        last = json.loads(result.read_text().strip().splitlines()[-1])
        if "trial_ended_at" in last:
            out.append((last["trial_ended_at"] - last["trial_seconds"], last["trial_ended_at"], last["trial_id"]))
    return sorted(out)


def slot_gaps(times: list[tuple[float, float, str]], slots: int) -> list[float]:
    """Idle time before each trial in its slot (a trial takes the slot that became free first)."""
    free = []  # end times of the slots' last trials
    gaps = []
    for start, end, _ in times:
        if len(free) < slots:
            free.append(end)
            continue
        free.sort()
        gaps.append(max(0.0, start - free[0]))
        free[0] = end
    return gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=str(ROOT / "runs" / "demo" / "teacher"), help="teacher run folder")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    cfg = RunConfig.from_file(ROOT / "configs" / "demo" / "sweep.yaml").with_overrides(
        {
            "model": {"use_selectivity": False},
            "data": {"train_size": 64, "val_size": 32, "test_size": 32},
            "training": {"num_epochs": 1, "batch_size": 32, "max_minutes": 0},
            "distillation": {"curriculum_epochs": 0},
            "search": {
                "num_samples": args.samples,
                "max_concurrent_trials": 2,
                "early_stopping": "none",
                "sampler": "random",
                "space": SPACE,
            },
            "tracking": {"register_front": False},
        }
    )
    start_local_ray(num_cpus=2, log_to_driver=False)
    import optuna
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        save_dir = Path(tmp) / "sweep"
        started = time.perf_counter()
        front = run_sweep(cfg, args.teacher, save_dir, progress=False)
        wall = time.perf_counter() - started
        times = trial_times(save_dir)
        gaps = slot_gaps(times, 2)
        study = optuna.load_study(study_name="kdssm", storage=f"sqlite:///{save_dir / 'optuna.db'}")
        optuna_ids = [t.user_attrs.get("tune_trial_id") for t in study.trials if "duplicate_of" not in t.user_attrs]
        client = MlflowClient(f"sqlite:///{save_dir / 'mlflow.db'}")
        experiment = client.get_experiment_by_name(f"kdssm-{save_dir.name}")
        runs = client.search_runs(
            [experiment.experiment_id], "tags.`kdssm.role` = 'trial'", max_results=max(1000, 2 * args.samples)
        )
        mlflow_ids = [r.data.tags["kdssm.trial_id"] for r in runs]
        pareto_ids = [e["trial_id"] for e in front["front"] + front["dominated"]]
        tune_ids = [t for _, _, t in times]
        seconds = [end - start for start, end, _ in times]
    result = {
        "command": " ".join(sys.argv),
        "samples": args.samples,
        "sweep_wall_s": round(wall, 1),
        "trial_seconds_median": round(statistics.median(seconds), 3),
        "driver_overhead_per_trial_s": {
            "median": round(statistics.median(gaps), 3),
            "mean": round(statistics.fmean(gaps), 3),
            "p90": round(sorted(gaps)[int(0.9 * len(gaps))], 3),
        },
        "trials": {
            "tune": len(tune_ids),
            "optuna": len(optuna_ids),
            "mlflow": len(mlflow_ids),
            "pareto_json": len(pareto_ids),
            "each_once_everywhere": (
                len(set(tune_ids)) == len(tune_ids) == args.samples
                and sorted(optuna_ids) == sorted(mlflow_ids) == sorted(pareto_ids) == sorted(tune_ids)
            ),
            "duplicates_resampled": sum("duplicate_of" in t.user_attrs for t in study.trials),
        },
    }
    print(json.dumps(result, indent=2))
    write_result("many_trials", result)


if __name__ == "__main__":
    main()
