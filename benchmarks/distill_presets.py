"""Distil the seed presets from the demo teacher on `mini`, gate-free (the seed's) and with a cheap gate,
beside the same students trained on ground truth alone for the same epochs, and the matched filter on
the same test columns: does distillation help, does the gate pay, which students beat the filter?

    python benchmarks/distill_presets.py [--teacher runs/demo/teacher] [--epochs 10]
    python benchmarks/distill_presets.py --teacher runs/demo-s1/teacher --variants gated --distilled_only \
        --presets standard compressed tiny --epochs 2 --train-size 512 --name distill_presets_s1

Writes benchmarks/results/<name>.json (default distill_presets, after each preset). The students take the
teacher run's config (its data preset and recipe: on s1 the frozen focusing path and edge gates). The
recipe (--alpha --beta --gamma --preserve_distribution) defaults to the one that measurably transfers (distill_gain.py).
Goals (issue 3): retention >= 99 / 97 / 95 / 85 % for standard / compressed / tiny / ultra. Gated
variants: complex gates on every layer after the first (width 4, hidden 16), the seed's sizes
otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_recipe_args, write_result
from common import recipe as distillation_recipe

from kdssm.config import RunConfig
from kdssm.distill.runner import distill_run
from kdssm.metrics import retention
from kdssm.models import MODEL_PRESETS
from kdssm.train.runner import train_run

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"standard": 0.99, "compressed": 0.97, "tiny": 0.95, "ultra": 0.85}
KEEP = ("params", "nmse_db", "nmse_valid_db", "accuracy", "pslr_db", "latency_ms_per_column")
GATE = {"use_selectivity": True, "gate_layers": "not_first", "gate_width": 4, "gate_hidden": 16}


def student_config(teacher: Path, preset: str, epochs: int, train_size: int, gated: bool, recipe: dict) -> RunConfig:
    base = RunConfig.from_file(teacher / "config.yaml").with_overrides({"distillation": recipe})
    return base.with_overrides(
        {
            "model": {**MODEL_PRESETS[preset], **(GATE if gated else {"use_selectivity": False})},
            "data": {"train_size": train_size},
            "training": {"num_epochs": epochs, "max_minutes": 0.0, "early_stopping_patience": 1000},
            "distillation": {"curriculum_epochs": max(1, epochs // 4), "stage_epochs": max(1, epochs // 4)},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=str(ROOT / "runs/demo/teacher"), help="teacher run folder")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=2048)
    parser.add_argument("--presets", nargs="+", default=list(GOALS))
    parser.add_argument("--variants", nargs="+", default=["gate_free", "gated"], choices=["gate_free", "gated"])
    parser.add_argument("--distilled_only", action="store_true", help="no ground-truth-only twin (half the time)")
    parser.add_argument("--name", default="distill_presets", help="results file name")
    add_recipe_args(parser)
    args = parser.parse_args()
    recipe = distillation_recipe(args)
    teacher = Path(args.teacher)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            for variant in args.variants:
                name = preset if variant == "gate_free" else f"{preset}+gate"
                cfg = student_config(teacher, preset, args.epochs, args.train_size, variant == "gated", recipe)
                distilled = distill_run(cfg, teacher, Path(tmp) / f"kd-{name}", progress=False)
                alone = (
                    None
                    if args.distilled_only
                    else train_run(cfg, Path(tmp) / f"gt-{name}", kind="student", progress=False)
                )
                teacher_acc, mf = distilled["teacher"]["accuracy"], distilled["matched_filter"]
                rows[name] = {
                    "model": {
                        k: cfg.model.to_dict()[k] for k in ("model_dim", "state_dim", "num_layers", "use_selectivity")
                    },
                    "distilled": {k: distilled[k] for k in KEEP}
                    | {"retention": distilled["retention"], "train_seconds": distilled["training"]["train_seconds"]},
                    "ground_truth_only": None
                    if alone is None
                    else {k: alone[k] for k in KEEP}
                    | {
                        "retention": retention(alone["accuracy"], teacher_acc),
                        "train_seconds": alone["training"]["train_seconds"],
                    },
                    "goal_retention": GOALS.get(preset),
                    "distillation_gain_db": None if alone is None else alone["nmse_db"] - distilled["nmse_db"],
                    "meets_goal": distilled["retention"] >= GOALS.get(preset, 0.0),
                    "beats_matched_filter": distilled["accuracy"] > mf["accuracy"],
                }
                twin = (
                    "" if alone is None else f" vs ground truth only {rows[name]['ground_truth_only']['retention']:.4f}"
                )
                print(
                    f"{name}: {distilled['params']:,} params, retention distilled {distilled['retention']:.4f}{twin} "
                    f"(goal {GOALS.get(preset)}); accuracy {distilled['accuracy']:.4f} vs matched filter "
                    f"{mf['accuracy']:.4f}; {distilled['training']['train_seconds']:.0f} s of training",
                    flush=True,
                )
                path = write_result(  # after every preset: a long run stopped early keeps what it measured
                    args.name,
                    {
                        "teacher": {k: distilled["teacher"][k] for k in KEEP},
                        "matched_filter": {k: mf[k] for k in KEEP},
                        "teacher_dir": str(teacher),
                        "epochs": args.epochs,
                        "train_size": args.train_size,
                        "recipe": recipe,
                        "presets": rows,
                    },
                )
    print(f"-> {path}")


if __name__ == "__main__":
    main()
