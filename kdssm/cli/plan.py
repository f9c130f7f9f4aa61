"""`kdssm plan`: what a run needs (memory, disk, speed) before running it; nothing is written."""

from __future__ import annotations

import argparse
from pathlib import Path

from .flags import add_config_flags
from .parser import add_print_config
from .train import train_config


def cmd_plan(args: argparse.Namespace) -> int:
    from ..checkpoint import read_checkpoint
    from ..config import ModelConfig
    from ..preflight import format_preflight, preflight

    cfg = train_config(args)
    teacher = None
    if args.teacher_checkpoint:
        teacher = ModelConfig.from_dict(read_checkpoint(Path(args.teacher_checkpoint))["config"])
    result = preflight(cfg, teacher, args.save_dir, run_probe=not args.no_probe)
    print(format_preflight(cfg, result, "distillation" if teacher else "training"))
    return 0 if result["fits"] else 2


def register(sub) -> None:
    pln = sub.add_parser("plan", help="what a run needs (memory, disk, speed) before running it; nothing written")
    pln.add_argument("config", help="run YAML (as for train or distill)")
    pln.add_argument("--teacher_checkpoint", "--teacher-checkpoint", help="plan a distillation from this teacher")
    pln.add_argument("--save_dir", "--save-dir", help="where the run would go (its disk's free space)")
    pln.add_argument("--no_probe", "--no-probe", action="store_true", help="skip the short speed probe")
    add_config_flags(pln)
    add_print_config(pln, lambda args: train_config(args).to_yaml())
    pln.set_defaults(func=cmd_plan)
