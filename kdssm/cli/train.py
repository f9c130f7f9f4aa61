"""`kdssm train` and `kdssm demo`: a model on ground truth, and the whole demo."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import RunConfig
from .cluster_flags import add_cluster_flags, cluster_options, execute
from .flags import DATA, GROUND_TRUTH, REPO_CONFIGS, add_config_flags, load_config
from .parser import add_print_config, nonempty_path


def train_config(args: argparse.Namespace) -> RunConfig:
    return load_config(args.config, args)


def cmd_train(args: argparse.Namespace) -> int:
    cfg = train_config(args)  # a bad value is named before torch and Lightning load
    from ..report import print_scores
    from ..train.runner import plan_training

    save_dir = args.save_dir or f"runs/{'teacher' if cfg.model.use_selectivity else 'student'}"
    opts = cluster_options(args)
    summary = execute(plan_training(cfg, save_dir, args.overwrite), opts, not args.quiet)
    print_scores({"model": summary, "matched filter": summary["matched_filter"]})
    print(f"wrote {Path(save_dir) / 'model.ckpt'} and {Path(save_dir) / 'summary.json'}")
    return 0


DEMO_CONFIGS = {"mini": REPO_CONFIGS / "demo", "s1": REPO_CONFIGS / "demo" / "s1"}
DEMO_DIRS = {"mini": "runs/demo", "s1": "runs/demo-s1"}


def demo_configs(args: argparse.Namespace) -> tuple[RunConfig, RunConfig]:
    """The demo's teacher config (flags applied) and its sweep config, of the chosen preset's demo."""
    folder = DEMO_CONFIGS[args.preset]
    teacher = load_config(args.config or folder / "teacher.yaml", args)
    return teacher, RunConfig.from_file(args.sweep_config or folder / "sweep.yaml")


def describe_demo(args: argparse.Namespace) -> str:
    teacher, sweep = demo_configs(args)
    return f"# teacher\n{teacher.to_yaml()}---\n# sweep\n{sweep.to_yaml()}"


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    teacher, sweep = demo_configs(args)
    save_dir = Path(args.save_dir or DEMO_DIRS[args.preset])
    run_demo(teacher, sweep, save_dir, overwrite=args.overwrite, progress=not args.quiet)
    return 0


def register(sub) -> None:
    train = sub.add_parser("train", help="train a model (teacher or student) on ground truth")
    train.add_argument("--config", help="run YAML (sections model, data, training)")
    train.add_argument("--save_dir", "--save-dir", type=nonempty_path, help="run folder (resumed if unfinished)")
    train.add_argument("--overwrite", action="store_true", help="replace a finished run in save_dir")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cluster_flags(train)
    add_config_flags(train, GROUND_TRUTH)
    add_print_config(train, lambda args: train_config(args).to_yaml())
    train.set_defaults(func=cmd_train)

    demo = sub.add_parser(
        "demo",
        help="simulate columns, train the demo teacher, sweep 8 students, "
        "print the Pareto front, record everything in MLflow",
    )
    demo.add_argument(
        "--preset",
        choices=sorted(DEMO_CONFIGS),
        default="mini",
        help="mini (default: 256-sample columns, minutes) or s1 (Sentinel-1-size 1,000-sample columns, 27 min "
        "measured on 2 cores): the configs in configs/demo/ or configs/demo/s1/",
    )
    demo.add_argument("--config", help="teacher YAML (default: the preset's demo teacher.yaml); flags override it")
    demo.add_argument("--sweep_config", "--sweep-config", help="sweep YAML (default: the preset's demo sweep.yaml)")
    demo.add_argument(
        "--save_dir",
        "--save-dir",
        type=nonempty_path,
        help="demo folder (default runs/demo, runs/demo-s1 for --preset s1)",
    )
    demo.add_argument("--overwrite", action="store_true", help="replace a finished demo")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(demo, {**GROUND_TRUTH, "data": DATA[1:]})  # --preset above picks the demo and its columns
    add_print_config(demo, describe_demo)
    demo.set_defaults(func=cmd_demo)
