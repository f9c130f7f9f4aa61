"""Does distillation transfer? The demo student from the demo teacher on `mini`, against its twin on
ground truth alone.

    python benchmarks/distill_gain.py [--teacher runs/demo/teacher] [--epochs 10]

(a) scarce labels: 256 labelled + 4,096 unlabelled columns (the teacher labels them) distilled, against
    the same student on the 256 labelled columns alone with the same number of optimiser steps (then
    the same with 64 labelled); a student taught by the teacher's labels can at best reach the teacher,
    so the JSON records that ceiling (twin's nmse minus the teacher's) beside each gain;
(b) full labels: 4,352 labelled columns, distilled against ground truth alone at equal epochs; beside
    it the same distillation without the teacher bound (distillation.teacher_bound false: the
    teacher's labels pull everywhere, also where the student is already closer to the truth) and with
    the seeds' feature and distribution terms added (gamma 0.05, preserve_distribution).
The recipe (--alpha --beta --gamma --preserve_distribution) defaults to the teacher's labels and the
ground truth alone, the terms that measurably transfer (README, *Does distillation transfer?*).
The presets' retention with gated students is benchmarks/distill_presets.py's. Writes
benchmarks/results/distill_gain.json; the matched filter on the same test columns is in it.
Acceptance (issue 12): (a) >= 2 dB better whole-column nmse and within 0.5 dB in nmse_valid_db;
(b) no worse, gain reported.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_recipe_args, recipe, write_result

from kdssm.config import RunConfig
from kdssm.distill.runner import distill_run
from kdssm.models import MODEL_PRESETS
from kdssm.train.runner import train_run

ROOT = Path(__file__).resolve().parents[1]
KEEP = ("params", "nmse_db", "nmse_valid_db", "accuracy", "retention", "pslr_db")


def scores(summary: dict) -> dict:
    out = {k: summary[k] for k in KEEP if k in summary}
    return out | {
        "epochs": summary["training"]["epochs"],
        "train_seconds": summary["training"]["train_seconds"],
        "best_epoch": summary["training"].get("best_epoch"),
    }


def fixed_length(base: RunConfig, data: dict, epochs: int, distillation: dict | None = None) -> RunConfig:
    """base on `data` for exactly `epochs` epochs: no time limit, no early stopping."""
    training = {"num_epochs": epochs, "max_minutes": 0.0, "early_stopping_patience": 100000}
    return base.with_overrides({"data": data, "training": training, "distillation": distillation or {}})


def pair(
    base: RunConfig,
    teacher: Path,
    tmp: Path,
    name: str,
    distilled_data: dict,
    alone_data: dict,
    distilled_epochs: int,
    alone_epochs: int,
) -> dict:
    """One distilled student and its ground-truth twin (same student, same seed)."""
    kd = distill_run(fixed_length(base, distilled_data, distilled_epochs), teacher, tmp / f"kd-{name}", progress=False)
    alone = train_run(fixed_length(base, alone_data, alone_epochs), tmp / f"gt-{name}", kind="student", progress=False)
    alone_scores = scores(alone) | {"retention": alone["accuracy"] / kd["teacher"]["accuracy"]}
    return {
        "distilled": scores(kd),
        "ground_truth_only": alone_scores,
        "gain_nmse_db": alone["nmse_db"] - kd["nmse_db"],
        "gain_nmse_valid_db": alone["nmse_valid_db"] - kd["nmse_valid_db"],
        "teacher": {k: kd["teacher"][k] for k in ("nmse_db", "nmse_valid_db", "accuracy")},
        "matched_filter": {k: kd["matched_filter"][k] for k in ("nmse_db", "nmse_valid_db", "accuracy")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=str(ROOT / "runs/demo/teacher"), help="teacher run folder")
    parser.add_argument("--student", default=str(ROOT / "configs/demo/student.yaml"))
    parser.add_argument(
        "--preset", choices=tuple(MODEL_PRESETS), help="the student's size from a preset (its gate kept)"
    )
    parser.add_argument("--epochs", type=int, default=25, help="epochs of the distilled runs")
    parser.add_argument(
        "--labelled",
        type=int,
        nargs="+",
        default=[256, 64],
        help="labelled column counts for (a); the first is the acceptance case",
    )
    parser.add_argument("--unlabelled", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=32)
    add_recipe_args(parser)
    parser.add_argument("--curriculum", type=int, default=0, help="student-only epochs first")
    parser.add_argument("--skip_b", action="store_true", help="run (a) only")
    parser.add_argument("--name", default="distill_gain", help="benchmarks/results/<name>.json")
    args = parser.parse_args()
    teacher = Path(args.teacher)
    size = {k: MODEL_PRESETS[args.preset][k] for k in ("model_dim", "state_dim", "num_layers")} if args.preset else {}
    base = RunConfig.from_file(args.student).with_overrides(
        {
            "model": size,
            "training": {"batch_size": args.batch},
            "distillation": recipe(args) | {"curriculum_epochs": args.curriculum},
        }
    )
    results = {"a_by_labelled": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for labelled in args.labelled:
            steps = args.epochs * math.ceil((labelled + args.unlabelled) / args.batch)
            alone_epochs = math.ceil(steps / math.ceil(labelled / args.batch))  # the same optimiser steps
            a = pair(
                base,
                teacher,
                Path(tmp),
                f"scarce{labelled}",
                {"train_size": labelled, "unlabelled_size": args.unlabelled},
                {"train_size": labelled},
                args.epochs,
                alone_epochs,
            )
            # distilled on the teacher's labels, a student can at best match the teacher
            a |= {
                "labelled": labelled,
                "optimiser_steps": steps,
                "teacher_ceiling_gain_db": a["ground_truth_only"]["nmse_db"] - a["teacher"]["nmse_db"],
            }
            results["a_by_labelled"][str(labelled)] = a
            print(
                f"(a) {labelled} labelled + {args.unlabelled} unlabelled: nmse {a['distilled']['nmse_db']:.2f} vs "
                f"{a['ground_truth_only']['nmse_db']:.2f} dB alone (gain {a['gain_nmse_db']:+.2f}, teacher ceiling "
                f"{a['teacher_ceiling_gain_db']:+.2f}), valid {a['distilled']['nmse_valid_db']:.2f} vs "
                f"{a['ground_truth_only']['nmse_valid_db']:.2f}",
                flush=True,
            )
        full = args.labelled[0] + args.unlabelled
        if args.skip_b:
            return finish(args, base, teacher, results)
        results["b_full_labels"] = pair(
            base, teacher, Path(tmp), "full", {"train_size": full}, {"train_size": full}, args.epochs, args.epochs
        )
        b = results["b_full_labels"]
        variants = {
            "without_teacher_bound": {"teacher_bound": False},
            "with_seed_terms": {"gamma": 0.05, "preserve_distribution": True},
        }
        for name, distillation in variants.items():
            variant = fixed_length(base, {"train_size": full}, args.epochs, distillation)
            kd = distill_run(variant, teacher, Path(tmp) / f"kd-full-{name}", progress=False)
            b[f"distilled_{name}"] = scores(kd) | {"distillation": distillation}
            b[f"gain_{name}_nmse_db"] = b["ground_truth_only"]["nmse_db"] - kd["nmse_db"]
        print(
            f"(b) {full} labelled: nmse {b['distilled']['nmse_db']:.2f} vs {b['ground_truth_only']['nmse_db']:.2f} "
            f"dB alone (gain {b['gain_nmse_db']:+.2f}; without the teacher bound "
            f"{b['gain_without_teacher_bound_nmse_db']:+.2f}, "
            f"with the seeds' terms {b['gain_with_seed_terms_nmse_db']:+.2f})",
            flush=True,
        )
    finish(args, base, teacher, results)


def finish(args: argparse.Namespace, base: RunConfig, teacher: Path, results: dict) -> None:
    a, b = results["a_by_labelled"][str(args.labelled[0])], results.get("b_full_labels")
    acceptance = {
        "a_gain_at_least_2_db": a["gain_nmse_db"] >= 2.0,
        "a_valid_within_0_5_db": a["gain_nmse_valid_db"] >= -0.5,
    } | ({"b_no_worse": b["gain_nmse_db"] >= 0.0} if b else {})
    path = write_result(
        args.name,
        {
            "student": base.model.to_dict(),
            "distillation": base.distillation.to_dict(),
            "teacher_dir": str(teacher),
            **results,
            "acceptance": acceptance,
        },
    )
    print(f"{acceptance} -> {path}")


if __name__ == "__main__":
    main()
