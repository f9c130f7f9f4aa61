"""`kdssm sweep` (search students of a teacher) and `kdssm pareto` (the front of a finished or running sweep)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import RunConfig
from .cluster_flags import add_cluster_flags, cluster_from_flags
from .distill import require_teacher
from .flags import REPO_CONFIGS, SWEEP, add_config_flags, load_config
from .parser import UserError, add_print_config, nonempty_path

SMOKE_TEST = {
    "search": {"num_samples": 2, "grace_epochs": 1},
    "training": {"num_epochs": 2, "max_minutes": 0},  # two: the first rung (grace_epochs 1) comes before the end
    "data": {"train_size": 64, "val_size": 32, "test_size": 32},
}


def sweep_config(args: argparse.Namespace) -> RunConfig:
    cfg = load_config(args.config, args, default=REPO_CONFIGS / "sweep.yaml")
    return cfg.with_overrides(SMOKE_TEST) if args.smoke_test else cfg


def cmd_sweep(args: argparse.Namespace) -> int:
    require_teacher(args)
    cfg = sweep_config(args)  # a bad value is named before Ray, torch and Lightning load
    from kdssm_tune.pareto import table
    from kdssm_tune.records import review_lines
    from kdssm_tune.sweep import run_sweep

    save_dir = Path(args.save_dir or "runs/sweep")
    front = run_sweep(
        cfg,
        args.teacher_checkpoint,
        save_dir,
        cluster_from_flags(args),
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print("\n" + table(front))
    print(f"wrote {save_dir / 'pareto.json'} and {save_dir / 'pareto.png'}")
    for line in review_lines(save_dir):
        print(f"review: {line}")
    return 0


def cmd_pareto(args: argparse.Namespace) -> int:
    from kdssm_tune.pareto import read, table

    folder = Path(args.save_dir)
    try:
        front = read(folder)
    except FileNotFoundError:
        return print_front_so_far(folder)
    except ValueError:
        raise UserError(f"{args.save_dir}/pareto.json: not valid JSON") from None
    print(table(front))
    return 0


def print_front_so_far(folder: Path) -> int:
    """A running (or interrupted) sweep has no pareto.json yet: its front over the trials finished so far."""
    from kdssm_tune.pareto import table
    from kdssm_tune.results import front_so_far

    try:
        front, finished, planned = front_so_far(folder)
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(f"{folder}: no pareto.json and no sweep in progress (`kdssm sweep` writes them)") from None
    if front is None:
        print(f"sweep in progress: 0 of {planned} students finished, no front yet")
        return 0
    print(
        f"sweep in progress: the front of {finished} of {planned} students finished so far (pareto.json is "
        "written when the sweep ends)"
    )
    print(table(front))
    return 0


def register(sub) -> None:
    sw = sub.add_parser("sweep", help="search students of a teacher with Ray Tune + Optuna; Pareto front and MLflow")
    sw.add_argument(
        "--teacher_checkpoint", "--teacher-checkpoint", type=nonempty_path, help="teacher model.ckpt or run folder"
    )
    sw.add_argument(
        "--config",
        help="sweep YAML: the student base config plus search and tracking sections (default: configs/sweep.yaml)",
    )
    sw.add_argument(
        "--save_dir", "--save-dir", type=nonempty_path, help="sweep folder (resumed if interrupted; default runs/sweep)"
    )
    sw.add_argument("--overwrite", action="store_true", help="replace a sweep in save_dir")
    sw.add_argument("--quiet", action="store_true", help="no Tune status tables")
    sw.add_argument(
        "--smoke-test",
        "--smoke_test",
        action="store_true",
        help="2 trials of 1 epoch on 64 columns: checks a setup end to end in a minute or two",
    )
    add_cluster_flags(sw, sweep=True)
    add_config_flags(sw, SWEEP)
    add_print_config(sw, lambda args: sweep_config(args).to_yaml())
    sw.set_defaults(func=cmd_sweep)

    par = sub.add_parser("pareto", help="print the Pareto front of a finished sweep")
    par.add_argument("--save_dir", "--save-dir", type=nonempty_path, required=True, help="sweep folder")
    add_print_config(par)
    par.set_defaults(func=cmd_pareto)
