"""Is kdssm's search worth its compute? Arms of the same sweep, hypervolume against CPU-seconds (issue 29).

    python benchmarks/search_efficiency.py --teacher runs/demo/teacher [--seeds 3] [--samples 12] [--epochs 6]

Every arm searches the demo sweep's space (configs/demo/sweep.yaml) for students of one teacher on the
same columns, with the same number of students and epochs; only the search differs:
  default      the demo's sampler (TPE) with Pareto early stopping (pareto_halving)
  no_stopping  the same sampler, every student trained to the end
  random       random sampling, every student trained to the end
  moasha       syne-tune's MOASHA as it ships: random sampling, its multi-objective ASHA stopping at the
               same rungs (search.early_stopping: moasha)
  nsga2        the library's default sampler (NSGA-II) with pareto_halving
Each arm runs --seeds times (search_seed 0, 1, ...). A student costs the CPU-seconds of its trial (its
folder's first record to its summary, times the trial's one CPU); the validation hypervolume after each
finished student against the CPU-seconds spent so far gives each run's curve. Two fixed reference
points, each the same for every arm: the teacher box (pareto.py's unit box: the teacher's size and a
perfect-score complement of 1, what pareto.json reports) and the nadir box (the worst value on each
objective of any student any run finished: it measures the trade-off inside the searched region, where
the teacher box is dominated by the size axis, every student being a few per cent of the teacher).
Reported per arm and box (mean and spread over seeds): the final validation hypervolume, the area under
the curve over the common budget, the CPU-seconds to reach 95 % and 99 % of the best final hypervolume any
run reached, and the test hypervolume of the final front (teacher box; reported only). Writes
benchmarks/results/search_efficiency.json and search_efficiency.png.
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
from kdssm_tune.hypervolume import hypervolume  # noqa: E402
from kdssm_tune.results import finished_trials  # noqa: E402
from kdssm_tune.sweep import run_sweep  # noqa: E402

ARMS = {
    "default": {"sampler": "tpe", "early_stopping": "pareto_halving"},
    "no_stopping": {"sampler": "tpe", "early_stopping": "none"},
    "random": {"sampler": "random", "early_stopping": "none"},
    "moasha": {"sampler": "random", "early_stopping": "moasha"},
    "nsga2": {"sampler": "nsga2", "early_stopping": "pareto_halving"},
}
TARGETS = (0.95, 0.99)  # fractions of the best final hypervolume


def arm_config(base: RunConfig, arm: str, seed: int, samples: int, epochs: int, train_size: int) -> RunConfig:
    return base.with_overrides(
        {
            "training": {"num_epochs": epochs, "max_minutes": 0},
            "data": {"train_size": train_size},
            "search": {**ARMS[arm], "num_samples": samples, "search_seed": seed, "grace_epochs": max(1, epochs // 4)},
            "tracking": {"register_front": False},
        }
    )


def spending(cfg: RunConfig, save_dir: Path, reference: dict) -> list[tuple[float, tuple[float, ...]]]:
    """(CPU-seconds spent so far, the student's validation point) for each student, in the order they finished."""
    names = [o.name for o in goals.of_search(cfg.search)]
    timed = []
    for t in finished_trials(cfg, save_dir):
        folder = save_dir / "trials" / t["trial_id"]
        start, end = (folder / "teacher.json").stat().st_mtime, (folder / "summary.json").stat().st_mtime
        timed.append((end, end - start, pareto.objectives(t["metrics"], reference["teacher"], names)))
    timed.sort()
    out, spent = [], 0.0
    for _, seconds, point in timed:
        spent += seconds
        out.append((spent, point))
    return out


def curve(spent: list[tuple[float, tuple[float, ...]]], box: tuple[float, ...]) -> list[tuple[float, float]]:
    """(CPU-seconds spent, hypervolume of the students finished so far inside the box) after each student."""
    return [(t, hypervolume([p for _, p in spent[: k + 1]], box)) for k, (t, _) in enumerate(spent)]


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
                spent = spending(cfg, save_dir, json.loads((save_dir / "reference.json").read_text()))
                runs[arm].append(
                    {
                        "seed": seed,
                        "spent": spent,
                        "test_hypervolume": front["hypervolume_test"],
                        "cpu_seconds": spent[-1][0],
                        "stopped_early": sum(
                            bool(t["summary"].get("stopped_early")) for t in finished_trials(cfg, save_dir)
                        ),
                    }
                )
                print(
                    f"{arm} seed {seed}: hypervolume {front['hypervolume']:.4f} in {spent[-1][0]:.0f} CPU-s", flush=True
                )
    every_point = [p for rs in runs.values() for r in rs for _, p in r["spent"]]
    boxes = {
        "teacher_box": (1.0,) * len(every_point[0]),
        "nadir_box": tuple(max(p[k] for p in every_point) for k in range(len(every_point[0]))),
    }
    budget = min(r["cpu_seconds"] for rs in runs.values() for r in rs)  # every run spent at least this
    by_box = {name: judge(runs, box, budget) for name, box in boxes.items()}
    plot(RESULTS / "search_efficiency.png", runs, boxes)
    write_result(
        "search_efficiency",
        {
            "command": " ".join(sys.argv),
            "teacher": args.teacher,
            "samples": args.samples,
            "epochs": args.epochs,
            "train_size": args.train_size,
            "seeds": args.seeds,
            "boxes": {name: list(box) for name, box in boxes.items()},
            "common_budget_cpu_seconds": budget,
            **by_box,
            "test_hypervolume_teacher_box": {
                arm: summarise([r["test_hypervolume"] for r in rs]) for arm, rs in runs.items()
            },
            "cpu_seconds": {arm: summarise([r["cpu_seconds"] for r in rs]) for arm, rs in runs.items()},
            "stopped_early": {arm: [r["stopped_early"] for r in rs] for arm, rs in runs.items()},
        },
    )


def judge(runs: dict[str, list[dict]], box: tuple[float, ...], budget: float) -> dict:
    """Each arm's figures inside one box: final hypervolume, area over the common budget, time to targets."""
    curves = {arm: [curve(r["spent"], box) for r in rs] for arm, rs in runs.items()}
    best = max(c[-1][1] for cs in curves.values() for c in cs)
    arms = {}
    for arm, cs in curves.items():
        arms[arm] = {
            "final_hypervolume": summarise([c[-1][1] for c in cs]),
            "area_per_cpu_second": summarise([area(c, budget) for c in cs]),
            **{
                f"cpu_seconds_to_{round(f * 100)}pct_of_best": summarise([time_to(c, f * best) for c in cs])
                for f in TARGETS
            },
        }
    return {"best_final_hypervolume": best, "arms": arms}


def plot(path: Path, runs: dict[str, list[dict]], boxes: dict[str, tuple[float, ...]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(boxes), figsize=(6 * len(boxes), 4))
    for ax, (name, box) in zip(axes, boxes.items()):
        for colour, (arm, rs) in zip(("C0", "C1", "C2", "C3", "C4", "C5"), runs.items()):
            for i, r in enumerate(rs):
                t, hv = zip(*curve(r["spent"], box))
                ax.step(t, hv, where="post", color=colour, alpha=0.8, label=arm if i == 0 else None)
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("CPU-seconds spent on students")
        ax.set_ylabel("validation hypervolume")
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
