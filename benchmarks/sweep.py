"""The sweep's two savings, measured: early stopping (time to reach a hypervolume) and the teacher shared
once per sweep (time per trial).

    python benchmarks/sweep.py [--teacher runs/demo/teacher] [--samples 8]

Four sweeps of the demo search space on a local Ray, one after the other, same sampler seed:
  1. pareto_halving early stopping, teacher shared     2. no early stopping, teacher shared
  3. 4 trials, no early stopping, teacher shared     4. the same 4 trials, each running the teacher itself
An untrained warm-up sweep runs first, so that no measured sweep pays Ray's cold start alone.
Hypervolume over time: after each finished trial, the hypervolume of the finished students' test
(accuracy, parameters) front, against the time since the sweep started. The target is 95 % of the
larger final hypervolume of sweeps 1 and 2. Per-trial time: the wall time of finished trials
(Tune's time_total_s), sweeps 3 against 4 (same seed, so the same 4 students).
Writes benchmarks/results/sweep.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

from kdssm.config import RunConfig  # noqa: E402
from tune import pareto  # noqa: E402
from tune.callbacks import trial_metrics  # noqa: E402
from tune.sweep import run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def hypervolume_curve(save_dir: Path, started: float) -> list[tuple[float, float]]:
    finished = []
    for path in save_dir.glob("trials/*/summary.json"):
        summary = json.loads(path.read_text())
        finished.append((path.stat().st_mtime - started, trial_metrics(summary), summary["teacher"]["params"]))
    curve, points = [], []
    for at, metrics, teacher_params in sorted(finished, key=lambda f: f[0]):
        points.append(pareto.objectives(metrics, teacher_params))
        front = [p for p, r in zip(points, pareto.front_ranks(points)) if r == 0]
        curve.append((round(at, 1), round(pareto.hypervolume(front), 5)))
    return curve


def trial_seconds(save_dir: Path) -> list[float]:
    out = []
    for result in (save_dir / "tune" / "sweep").glob("run_trial_*/result.json"):
        rows = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        if rows and rows[-1].get("final"):
            out.append(round(rows[-1]["time_total_s"], 1))
    return sorted(out)


def sweep(cfg: RunConfig, teacher: Path, folder: Path, **search) -> dict:
    cfg = cfg.with_overrides({"search": search, "tracking": {"register_front": False}})
    started = time.time()
    front = run_sweep(cfg, teacher, folder, progress=False)
    return {"wall_s": round(time.time() - started, 1), "final_hypervolume": front["hypervolume"],
            "curve": hypervolume_curve(folder, started), "trial_seconds": trial_seconds(folder),
            "finished_trials": len(list(folder.glob("trials/*/summary.json")))}


def time_to(curve: list, target: float) -> float | None:
    return next((at for at, hv in curve if hv >= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=str(ROOT / "runs/demo/teacher"))
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    cfg = RunConfig.from_file(ROOT / "configs/demo/sweep.yaml")
    import logging

    import ray
    ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # untimed warm-up: Ray's worker processes and the disk cache, which the first sweep would pay alone
        sweep(cfg.with_overrides({"training": {"num_epochs": 1}, "data": {"train_size": 64}}), args.teacher,
              tmp / "warmup", num_samples=2, early_stopping="none")
        early = sweep(cfg, args.teacher, tmp / "early", num_samples=args.samples, early_stopping="pareto_halving")
        full = sweep(cfg, args.teacher, tmp / "full", num_samples=args.samples, early_stopping="none")
        shared = sweep(cfg, args.teacher, tmp / "shared", num_samples=4, early_stopping="none")
        alone = sweep(cfg, args.teacher, tmp / "alone", num_samples=4, early_stopping="none", share_teacher=False)
    target = 0.95 * max(early["final_hypervolume"], full["final_hypervolume"])
    result = {
        "setup": {"search": "configs/demo/sweep.yaml", "samples": args.samples, "teacher": args.teacher},
        "early_stopping": {"target_hypervolume": round(target, 5),
                           "time_to_target_s": {"pareto_halving": time_to(early["curve"], target),
                                                "none": time_to(full["curve"], target)},
                           "pareto_halving": early, "none": full},
        "teacher_sharing": {
            "mean_trial_s_shared": round(sum(shared["trial_seconds"]) / len(shared["trial_seconds"]), 1)
            if shared["trial_seconds"] else None,
            "mean_trial_s_each_runs_teacher": round(sum(alone["trial_seconds"]) / len(alone["trial_seconds"]), 1)
            if alone["trial_seconds"] else None,
            "shared": shared["trial_seconds"], "each_runs_teacher": alone["trial_seconds"]},
    }
    path = write_result("sweep", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
