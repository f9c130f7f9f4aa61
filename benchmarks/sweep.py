"""The demo search through the old trial path (a Ray Train run per trial) and the new one (Lightning
inside the Tune trial), side by side in one run.

    python benchmarks/sweep.py [--teacher runs/demo/teacher] [--samples 8]

Both sweeps run configs/demo/sweep.yaml (TPE, 8 students, 2 at a time, Pareto-halving early stopping)
on one local Ray with the same sampler seed, after an untimed warm-up sweep on each path. Reported:
wall time; the final hypervolume (front chosen on validation); its curve (after each finished trial,
the hypervolume of the finished students' validation front against the time since the sweep began);
and per trial its wall time (from the trial function's start to its final report), its training and
validation time, and their difference, the trial's fixed cost (start-up, the teacher's targets,
building the datasets, scoring on the test split). Training and validation time: on the new path
summary.json's train_seconds (Lightning's fit, timed around it); on the old path train_seconds is the
whole TorchTrainer.fit, Ray Train's start-up included, so the epochs' own time is estimated from the
history's end-of-epoch stamps, (t_n - t_1) n / (n - 1) (the first epoch's start is not stamped), and
the fixed cost is the wall time minus that. Writes benchmarks/results/sweep.json.
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

from kdssm.config import RunConfig
from kdssm_tune import pareto
from kdssm_tune.callbacks import trial_metrics
from kdssm_tune.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
PATHS = {"in_trial": "auto", "ray_train": "ray_train"}


def hypervolume_curve(save_dir: Path, started: float) -> list[tuple[float, float]]:
    finished = []
    for path in save_dir.glob("trials/*/summary.json"):
        summary = json.loads(path.read_text())
        finished.append((path.stat().st_mtime - started, trial_metrics(summary), summary["teacher"]))
    curve, points = [], []
    for at, metrics, teacher in sorted(finished, key=lambda f: f[0]):
        points.append(pareto.objectives(metrics, teacher, pareto.objective_names()))
        front = [p for p, r in zip(points, pareto.front_ranks(points)) if r == 0]
        curve.append((round(at, 1), round(pareto.hypervolume(front), 5)))
    return curve


def epochs_seconds(history: Path) -> float:
    """Training and validation time of a trial's epochs, from the end stamps in its history.jsonl."""
    stamps = [json.loads(line)["time"] for line in history.read_text().splitlines() if line.strip()]
    n = len(stamps)
    return (stamps[-1] - stamps[0]) * n / (n - 1) if n > 1 else 0.0


def trial_times(save_dir: Path) -> list[dict]:
    """Per finished trial: Tune's wall time, Lightning's fit time (training and validation), the rest."""
    out = []
    for result in (save_dir / "tune" / "sweep").glob("run_trial_*/result.json"):
        rows = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        if not rows or not rows[-1].get("final"):
            continue
        folder = save_dir / "trials" / rows[-1]["trial_id"]
        summary = json.loads((folder / "summary.json").read_text())
        training = summary["training"]
        in_trial = "ray_run" not in training  # the Ray Train path names its Ray run
        wall = rows[-1]["trial_seconds"]
        fit = training["train_seconds"] if in_trial else epochs_seconds(folder / "history.jsonl")
        out.append(
            {
                "trial_id": rows[-1]["trial_id"],
                "wall_s": round(wall, 1),
                "fit_s": round(fit, 1),
                "train_seconds": training["train_seconds"],
                "fixed_s": round(wall - fit, 1),
                "epochs": training["epochs"],
                "stopped_early": bool(summary.get("stopped_early")),
            }
        )
    return sorted(out, key=lambda t: t["trial_id"])


def sweep(cfg: RunConfig, teacher: Path, folder: Path, runner: str, **search) -> dict:
    cfg = cfg.with_overrides({"search": {"trial_runner": runner, **search}, "tracking": {"register_front": False}})
    started = time.time()
    front = run_sweep(cfg, teacher, folder, progress=False)
    times = trial_times(folder)
    return {
        "wall_s": round(time.time() - started, 1),
        "final_hypervolume": front["hypervolume"],
        "final_hypervolume_test": front["hypervolume_test"],
        "front_size": len(front["front"]),
        "curve": hypervolume_curve(folder, started),
        "trials": times,
        "median_fixed_s": statistics.median(t["fixed_s"] for t in times) if times else None,
        "max_fixed_s": max(t["fixed_s"] for t in times) if times else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=str(ROOT / "runs/demo/teacher"))
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    cfg = RunConfig.from_file(ROOT / "configs/demo/sweep.yaml")
    import logging

    import ray

    ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    measured = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, runner in PATHS.items():  # untimed warm-ups: worker processes and the disk cache
            sweep(
                cfg.with_overrides({"training": {"num_epochs": 1}, "data": {"train_size": 64}}),
                args.teacher,
                tmp / f"warmup-{name}",
                runner,
                num_samples=2,
                early_stopping="none",
            )
        for name, runner in PATHS.items():
            measured[name] = sweep(cfg, args.teacher, tmp / name, runner, num_samples=args.samples)
    new, old = measured["in_trial"], measured["ray_train"]
    result = {
        "setup": {
            "search": "configs/demo/sweep.yaml",
            "samples": args.samples,
            "teacher": args.teacher,
            "early_stopping": cfg.search.early_stopping,
            "front_chosen_on": "validation",
        },
        "wall_ratio_old_over_new": round(old["wall_s"] / new["wall_s"], 2),
        "hypervolume_new_minus_old": round(new["final_hypervolume"] - old["final_hypervolume"], 5),
        **measured,
    }
    path = write_result("sweep", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
