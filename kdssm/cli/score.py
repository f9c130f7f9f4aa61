"""`kdssm evaluate` (a model on test columns against the matched filter) and `kdssm compare` (side by side)."""

from __future__ import annotations

import argparse
import typing
from pathlib import Path

from ..config import PRESETS
from ..config.data import SceneKindName
from ..deploy.formats import PRECISIONS
from .parser import add_print_config, nonnegative_int, positive_int

SCENE_KIND_NAMES = typing.get_args(SceneKindName)


def cmd_compare(args: argparse.Namespace) -> int:
    from ..compare import compare_runs

    compare_runs(
        Path(args.teacher), [Path(s) for s in args.students], Path(args.out) if args.out else None, args.precision
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..checkpoint import load_model, read_checkpoint
    from ..config import ModelConfig
    from ..data import get_preset, simulate
    from ..data.datasets import load_npz
    from ..deploy.source import checkpoint_path
    from ..evaluate import evaluate_matched_filter, evaluate_model
    from ..report import print_scores
    from ..resources import check_scoring

    path = checkpoint_path(args.model, args.tracking_uri)  # a run folder, a model.ckpt or models:/...
    config = ModelConfig.from_dict(read_checkpoint(path)["config"])
    args.preset = columns_preset(config, args.preset, args.model)
    check_scoring([config], args.num_columns, get_preset(args.preset).length, "evaluate")
    model = load_model(path)
    if args.npz:
        split = load_npz(args.npz)
        x, y = split.x, split.y
    else:
        x, y = simulate(args.preset, args.num_columns, args.seed, kind=args.scene_kind)
    print_scores(
        {
            "model": evaluate_model(model, x, y, args.preset),
            "matched filter": evaluate_matched_filter(x, y, args.preset),
        }
    )
    return 0


def columns_preset(config, asked: str | None, checkpoint: str) -> str:
    """The preset whose columns score the model: the one it was built for (its geometry) unless asked;
    asking for another geometry's columns is a one-line error naming both."""
    from ..config import ConfigError
    from ..geometry import PRESETS as GEOMETRIES
    from ..geometry import describe, preset_of

    built_for = preset_of(config.geometry)
    if asked is None:
        return built_for or "mini"
    if config.geometry is not None and built_for != asked:
        raise ConfigError(
            f"--preset: {checkpoint} focuses {describe(config.geometry)}; {asked} columns have "
            f"{describe(GEOMETRIES[asked])}"
        )
    return asked


def register(sub) -> None:
    cmp = sub.add_parser("compare", help="teacher and students side by side: table, JSON, CSV, scene PNG")
    cmp.add_argument("teacher", help="teacher run folder")
    cmp.add_argument("students", nargs="+", help="student run folders")
    cmp.add_argument("--out", help="folder for comparison.json/.csv/.png (default: the teacher's parent)")
    cmp.add_argument(
        "--precision",
        nargs="+",
        default=[],
        choices=PRECISIONS,
        help="also score each student at these precisions (extra rows; FFTs stay fp32)",
    )
    add_print_config(cmp)
    cmp.set_defaults(func=cmd_compare)

    ev = sub.add_parser("evaluate", help="score a model.ckpt on test columns against the matched filter")
    ev.add_argument("model", help="a run folder, a model.ckpt or models:/<name>@<alias> (with --tracking_uri)")
    ev.add_argument("--tracking_uri", "--tracking-uri", help="MLflow server of a models:/ URI")
    ev.add_argument(
        "--preset",
        choices=PRESETS,
        help="columns of this preset (default: the preset whose geometry the model was built for, else mini)",
    )
    ev.add_argument("--npz", help="score on these columns instead of simulated ones")
    ev.add_argument(
        "--num_columns", "--num-columns", type=positive_int, default=512, help="simulated test columns (default 512)"
    )
    ev.add_argument("--seed", type=nonnegative_int, default=3, help="seed of the simulated columns (default 3)")
    ev.add_argument(
        "--scene_kind",
        "--scene-kind",
        default="card",
        choices=SCENE_KIND_NAMES,
        help="what the simulated columns hold: the data card's mix (default), clutter alone, denser targets, lower SNR",
    )
    add_print_config(ev)
    ev.set_defaults(func=cmd_evaluate)
