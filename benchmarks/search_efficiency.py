"""Is kdssm's search worth its compute? Arms of the same sweep, hypervolume against CPU-seconds (issue 29).

    python benchmarks/search_efficiency.py --teacher runs/demo/teacher [--seeds 3] [--samples 12] [--epochs 6]

Every arm searches the demo sweep's space (configs/demo/sweep.yaml) for students of one teacher on the
same columns, with the same number of students and epochs; only the search differs:
  default      the demo's sampler (TPE) with Pareto early stopping (pareto_halving)
  no_stopping  the same sampler, every student trained to the end
  random       random sampling, every student trained to the end
Each arm runs --seeds times (search_seed 0, 1, ...). A student costs the CPU-seconds of its trial (its
folder's first record to its summary, times the trial's one CPU); the validation hypervolume after each
finished student (one fixed reference point, the unit box of pareto.py, for every arm) against the
CPU-seconds spent so far gives each run's curve. Reported per arm (mean and spread over seeds): the
final validation hypervolume, the area under the curve over the common budget, the CPU-seconds to reach
95 % of the best final hypervolume any run reached, and the test hypervolume of the final front (reported
only). Writes benchmarks/results/search_efficiency.json and search_efficiency.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kdssm.config import RunConfig  # noqa: E402
from kdssm.ray_local import start_local_ray  # noqa: E402
from kdssm_tune import objectives as goals  # noqa: E402
from kdssm_tune import pareto  # noqa: E402
from kdssm_tune.results import finished_trials  # noqa: E402
from kdssm_tune.sweep import run_sweep  # noqa: E402

ARMS = {
    "default": {"sampler": "tpe", "early_stopping": "pareto_halving"},
    "no_stopping": {"sampler": "tpe", "early_stopping": "none"},
    "random": {"sampler": "random", "early_stopping": "none"},
}


def arm_config(base: RunConfig, arm: str, seed: int, samples: int, epochs: int, train_size: int) -> RunConfig:
    return base.with_overrides(
        {
            "training": {"num_epochs": epochs, "max_minutes": 0},
            "data": {"train_size": train_size},
            "search": {**ARMS[arm], "num_samples": samples, "search_seed": seed, "grace_epochs": max(1, epochs // 4)},
            "tracking": {"register_front": False},
        }
    )


def curve(cfg: RunConfig, save_dir: Path, reference: dict) -> list[tuple[float, float]]:
    """(CPU-seconds spent, validation hypervolume of the students finished so far) after each student."""
    names = [o.name for o in goals.of_search(cfg.search)]
    trials = finished_trials(cfg, save_dir)
    timed = []
    for t in trials:
        folder = save_dir / "trials" / t["trial_id"]
        start, end = (folder / "teacher.json").stat().st_mtime, (folder / "summary.json").stat().st_mtime
        timed.append((end, end - start, pareto.objectives(t["metrics"], reference["teacher"], names)))
    timed.sort()
    out, spent, points = [], 0.0, []
    for _, seconds, point in timed:
        spent += seconds
        points.append(point)
        out.append((spent, pareto.hypervolume(points)))  # dominated points add nothing
    return out


def area(points: list[tuple[float, float]], budget: float) -> float:
    """Area under the stepped curve up to `budget` CPU-seconds, divided by the budget (mean hypervolume)."""
    total, last_t, last_hv = 0.0, 0.0, 0.0
    for t, hv in points:
        if t > budget:
            break
        total += (t - last_t) * last_hv
        last_t, last_hv = t, hv
    total += (budget - last_t) * last_hv
    return total / budget


def time_to(points: list[tuple[float, float]], target: float) -> float | None:
    return next((t for t, hv in points if hv >= target), None)


def summarise(values: list[float | None]) -> dict:
    got = [v for v in values if v is not None]
    return {
        "runs": values,
        "mean": statistics.fmean(got) if got else None,
        "spread": (max(got) - min(got)) if got else None,
        "reached": len(got),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=str(ROOT / "runs" / "demo" / "teacher"), help="teacher run folder")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=12, help="students per run")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per student")
    parser.add_argument("--train_size", type=int, default=1024)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    args = parser.parse_args()
    base = RunConfig.from_file(ROOT / "configs" / "demo" / "sweep.yaml")
    start_local_ray(num_cpus=2, log_to_driver=False)
    runs: dict[str, list[dict]] = {arm: [] for arm in args.arms}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for arm in args.arms:  # arms alternate within a seed: the machine's load falls on all of them
                cfg = arm_config(base, arm, seed, args.samples, args.epochs, args.train_size)
                save_dir = Path(tmp) / f"{arm}-{seed}"
                front = run_sweep(cfg, args.teacher, save_dir, progress=False)
                reference = json.loads((save_dir / "reference.json").read_text())
                points = curve(cfg, save_dir, reference)
                runs[arm].append(
                    {
                        "seed": seed,
                        "curve": points,
                        "final_hypervolume": front["hypervolume"],
                        "test_hypervolume": front["hypervolume_test"],
                        "cpu_seconds": points[-1][0],
                        "stopped_early": sum(bool(e.get("stopped_early")) for e in front["front"] + front["dominated"]),
                    }
                )
                print(
                    f"{arm} seed {seed}: hypervolume {front['hypervolume']:.4f} in {points[-1][0]:.0f} CPU-s",
                    flush=True,
                )
    best = max(r["final_hypervolume"] for rs in runs.values() for r in rs)
    budget = min(r["cpu_seconds"] for rs in runs.values() for r in rs)  # every run spent at least this
    arms = {
        arm: {
            "final_hypervolume": summarise([r["final_hypervolume"] for r in rs]),
            "test_hypervolume": summarise([r["test_hypervolume"] for r in rs]),
            "area_per_cpu_second": summarise([area(r["curve"], budget) for r in rs]),
            "cpu_seconds_to_95pct_of_best": summarise([time_to(r["curve"], 0.95 * best) for r in rs]),
            "cpu_seconds": summarise([r["cpu_seconds"] for r in rs]),
        }
        for arm, rs in runs.items()
    }
    plot(RESULTS / "search_efficiency.png", runs)
    write_result(
        "search_efficiency",
        {
            "command": " ".join(sys.argv),
            "teacher": args.teacher,
            "samples": args.samples,
            "epochs": args.epochs,
            "train_size": args.train_size,
            "seeds": args.seeds,
            "best_final_hypervolume": best,
            "common_budget_cpu_seconds": budget,
            "arms": arms,
            "runs": {arm: [{k: v for k, v in r.items() if k != "curve"} for r in rs] for arm, rs in runs.items()},
        },
    )


def plot(path: Path, runs: dict[str, list[dict]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for colour, (arm, rs) in zip(("C0", "C1", "C2", "C3"), runs.items()):
        for i, r in enumerate(rs):
            t, hv = zip(*r["curve"])
            ax.step(t, hv, where="post", color=colour, alpha=0.8, label=arm if i == 0 else None)
    ax.set_xlabel("CPU-seconds spent on students")
    ax.set_ylabel("validation hypervolume")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
