"""`kdssm plan`: what a run needs (memory, disk, speed, time) before running it; nothing is written."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from .flags import STUDENT, add_config_flags
from .parser import UserError, add_print_config, nonempty_path
from .train import train_config


def _minutes(text: str) -> float:
    """--minutes: a positive, finite number of minutes."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of minutes, got {text!r}")
    return value


def plan_teacher(args: argparse.Namespace):
    """The teacher's ModelConfig (with its geometry) from --teacher_checkpoint or --teacher_config, else None."""
    from ..checkpoint import read_checkpoint
    from ..config import ModelConfig, RunConfig
    from ..data.datasets import with_column_geometry

    if args.teacher_checkpoint:
        return ModelConfig.from_dict(read_checkpoint(Path(args.teacher_checkpoint))["config"])
    if args.teacher_config:
        return with_column_geometry(RunConfig.from_file(args.teacher_config), quiet=True).model
    return None


def cmd_plan(args: argparse.Namespace) -> int:
    from ..preflight import format_preflight, preflight

    if args.minutes and args.no_probe:
        raise UserError("--minutes: the run's time comes from the speed probe; drop --no_probe")
    cfg = train_config(args)
    teacher = plan_teacher(args)
    what = "distillation" if teacher else "training"
    runs = [(cfg, what)]
    if cfg.search.space is not None:  # a sweep: its trials' largest student decides what a trial needs
        from kdssm_tune.space import largest

        runs.append((largest(cfg, cfg.search), f"{what} of the search space's largest student"))
    status = 0
    for run_cfg, label in runs:
        result = preflight(run_cfg, teacher, args.save_dir, run_probe=not args.no_probe)
        print(format_preflight(run_cfg, result, label))
        if not result["fits"]:
            status = 2
        elif args.minutes and result["run_minutes"] > args.minutes:
            print(
                f"kdssm: error: {label} needs about {result['run_minutes']:.0f} min on this machine at the probed "
                f"speed, over --minutes {args.minutes:g}; lower training.num_epochs, data.train_size or the model dims",
                file=sys.stderr,
            )
            status = 2
    return status


def register(sub) -> None:
    pln = sub.add_parser("plan", help="what a run needs (memory, disk, speed) before running it; nothing written")
    pln.add_argument("config", help="run YAML (as for train, distill or sweep)")
    pln.add_argument(
        "--teacher_checkpoint", "--teacher-checkpoint", type=nonempty_path, help="plan a distillation from this teacher"
    )
    pln.add_argument(
        "--teacher_config", "--teacher-config", help="plan a distillation from a teacher of this run YAML (untrained)"
    )
    pln.add_argument(
        "--save_dir", "--save-dir", type=nonempty_path, help="where the run would go (its disk's free space)"
    )
    pln.add_argument("--no_probe", "--no-probe", action="store_true", help="skip the short speed probe")
    pln.add_argument(
        "--minutes",
        type=_minutes,
        help="the wall-clock the run may take here: longer at the probed speed is refused (exit 2)",
    )
    add_config_flags(pln, STUDENT)
    add_print_config(pln, lambda args: train_config(args).to_yaml())
    pln.set_defaults(func=cmd_plan)
