"""`kdssm distill`: a teacher checkpoint into a student (the seed's flags work too)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import RunConfig
from ..models.presets import MODEL_PRESETS
from .cluster_flags import add_cluster_flags, cluster_options, execute
from .flags import STUDENT, add_config_flags, overrides_from_args
from .parser import UserError, add_print_config, nonempty_path


def size_against_teacher(param_reduction: float) -> str:
    """'parameters 82.5 % fewer than the teacher's' (or 'more' for a student larger than its teacher)."""
    side = "fewer" if param_reduction >= 0 else "more"
    return f"parameters {100 * abs(param_reduction):.1f} % {side} than the teacher's"


def student_base_config(args: argparse.Namespace) -> RunConfig:
    """The student's starting config: --student_config, else the teacher run's config without the gate."""
    if args.student_config:
        return RunConfig.from_file(args.student_config)
    from ..files import model_file
    from ..train.rundir import CONFIG_FILE

    stored = model_file(args.teacher_checkpoint).parent / CONFIG_FILE
    base = RunConfig.from_file(stored) if stored.is_file() else RunConfig()
    return base.with_overrides({"model": {"use_selectivity": False}})


def require_teacher(args: argparse.Namespace) -> None:
    if not args.teacher_checkpoint:
        raise UserError("--teacher_checkpoint is required (a model.ckpt or a teacher run folder)")


def student_config(args: argparse.Namespace) -> RunConfig:
    """The student's run config: its base, the --student_preset size, then the flags (seed aliases included)."""
    require_teacher(args)
    cfg = student_base_config(args)
    if args.student_preset:
        cfg = cfg.with_overrides({"model": MODEL_PRESETS[args.student_preset]})
    overrides = overrides_from_args(args)
    if args.progressive_layers:
        overrides.setdefault("distillation", {})["progressive_coupling"] = True
    if args.disable_distribution_preservation:
        overrides.setdefault("distillation", {})["preserve_distribution"] = False
    return cfg.with_overrides(overrides)


def cmd_distill(args: argparse.Namespace) -> int:
    require_teacher(args)
    teacher_cfg = RunConfig.from_file(args.teacher_config).model if args.teacher_config else None
    cfg = student_config(args)  # a bad value is named before torch and Lightning load
    from ..distill.runner import plan_distillation
    from ..report import print_scores

    save_dir = args.save_dir or f"runs/student-{args.student_preset or 'custom'}"
    opts = cluster_options(args)
    plan = plan_distillation(
        cfg, args.teacher_checkpoint, save_dir, teacher_config=teacher_cfg, overwrite=args.overwrite
    )
    summary = execute(plan, opts, not args.quiet)
    print_scores({"student": summary, "teacher": summary["teacher"], "matched filter": summary["matched_filter"]})
    print(
        f"retention {summary['retention']:.4f}, {size_against_teacher(summary['param_reduction'])}; "
        f"wrote {Path(save_dir) / 'model.ckpt'} and {Path(save_dir) / 'summary.json'}"
    )
    return 0


def register(sub) -> None:
    dist = sub.add_parser("distill", help="distil a teacher checkpoint into a student (the seed's flags work)")
    dist.add_argument(
        "--teacher_checkpoint", "--teacher-checkpoint", type=nonempty_path, help="teacher model.ckpt or run folder"
    )
    dist.add_argument("--teacher_config", "--teacher-config", help="teacher YAML; its model must match the checkpoint")
    dist.add_argument(
        "--student_config", "--student-config", help="student YAML (default: the teacher run's config without the gate)"
    )
    dist.add_argument(
        "--student_preset", "--student-preset", choices=tuple(MODEL_PRESETS), help="student size from the seeds"
    )
    dist.add_argument("--save_dir", "--save-dir", type=nonempty_path, help="student run folder (resumed if unfinished)")
    dist.add_argument("--overwrite", action="store_true", help="replace a finished run in save_dir")
    dist.add_argument("--quiet", action="store_true", help="no progress bar")
    dist.add_argument(
        "--progressive_layers", "--progressive-layers", action="store_true", help="alias of --progressive_coupling"
    )
    dist.add_argument(
        "--disable_distribution_preservation",
        "--disable-distribution-preservation",
        action="store_true",
        help="preserve_distribution false",
    )
    add_cluster_flags(dist)
    sizes = ("model_dim", "state_dim", "later_state_dim", "num_layers")
    add_config_flags(dist, STUDENT, aliases={f: f"student_{f}" for f in sizes})  # the seed's --student_model_dim
    add_print_config(dist, lambda args: student_config(args).to_yaml())
    dist.set_defaults(func=cmd_distill)
