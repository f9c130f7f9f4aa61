"""`kdssm` command line: subcommands, flags from the config dataclasses, one-line user errors."""
from __future__ import annotations

import argparse
import sys
import typing
from pathlib import Path

from .config import ConfigError, RunConfig, SECTIONS, field_index

REPO_CONFIGS = Path(__file__).resolve().parent.parent / "configs"


class UserError(ValueError):
    """Any mistake of the user's that deserves one line, not a traceback."""


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parse_int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def _flag_type(section: str, name: str):
    hint = typing.get_type_hints(SECTIONS[section])[name]
    if typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is list:
        return _parse_int_list
    return {bool: _parse_bool, int: int, float: float, str: str}[hint]


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """--<field> for every config field (dashes accepted too), overriding the YAML value."""
    for name, (section, f) in field_index().items():
        flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
        parser.add_argument(*flags, dest=f"cfg__{section}__{name}", type=_flag_type(section, name),
                           default=None, metavar=name.upper(), help=f"[{section}] {f.metadata['help']}")


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, value in vars(args).items():
        if key.startswith("cfg__") and value is not None:
            _, section, name = key.split("__")
            out.setdefault(section, {})[name] = value
    return out


def load_config(path: str | None, args: argparse.Namespace, default: Path | None = None) -> RunConfig:
    source = Path(path) if path else default
    cfg = RunConfig.from_file(source) if source else RunConfig()
    return cfg.with_overrides(overrides_from_args(args))


def cmd_train(args: argparse.Namespace) -> int:
    from .train.runner import train_run
    cfg = load_config(args.config, args)
    save_dir = args.save_dir or f"runs/{'teacher' if cfg.model.use_selectivity else 'student'}"
    summary = train_run(cfg, save_dir, overwrite=args.overwrite, progress=not args.quiet)
    from .report import print_scores
    print_scores({"model": summary, "matched filter": summary["matched_filter"]})
    print(f"wrote {Path(save_dir) / 'model.ckpt'} and {Path(save_dir) / 'summary.json'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    config = Path(args.config) if args.config else REPO_CONFIGS / "demo" / "teacher.yaml"
    cfg = load_config(str(config), args)
    run_demo(cfg, Path(args.save_dir), overwrite=args.overwrite, progress=not args.quiet)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .checkpoint import load_model
    from .data.datasets import load_npz
    from .data import simulate
    from .evaluate import evaluate_matched_filter, evaluate_model
    from .report import print_scores
    model = load_model(args.checkpoint)
    if args.npz:
        split = load_npz(args.npz)
        x, y = split.x, split.y
    else:
        x, y = simulate(args.preset, args.num_columns, args.seed)
    print_scores({"model": evaluate_model(model, x, y, args.preset),
                  "matched filter": evaluate_matched_filter(x, y, args.preset)})
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kdssm", description="Distil complex sarSSM focusing models.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model (teacher or student) on ground truth")
    train.add_argument("--config", help="run YAML (sections model, data, training)")
    train.add_argument("--save_dir", "--save-dir", help="run folder (resumed if unfinished)")
    train.add_argument("--overwrite", action="store_true", help="replace a finished run in save_dir")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(train)
    train.set_defaults(func=cmd_train)

    demo = sub.add_parser("demo", help="simulate mini data, train the demo teacher, compare with the matched filter")
    demo.add_argument("--config", help="teacher YAML (default: configs/demo/teacher.yaml)")
    demo.add_argument("--save_dir", "--save-dir", default="runs/demo", help="demo folder (default runs/demo)")
    demo.add_argument("--overwrite", action="store_true", help="replace a finished demo")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(demo)
    demo.set_defaults(func=cmd_demo)

    ev = sub.add_parser("evaluate", help="score a model.ckpt on test columns against the matched filter")
    ev.add_argument("checkpoint", help="model.ckpt or a run folder holding one")
    ev.add_argument("--preset", default="mini", choices=("mini", "s1"))
    ev.add_argument("--npz", help="score on these columns instead of simulated ones")
    ev.add_argument("--num_columns", "--num-columns", type=int, default=512)
    ev.add_argument("--seed", type=int, default=3)
    ev.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .checkpoint import CheckpointError
    from .data.datasets import DataError
    user_errors: tuple[type[Exception], ...] = (ConfigError, CheckpointError, DataError, UserError)
    try:
        from .train.rundir import RunDirError
        from .train.runner import TrainingDiverged
        user_errors += (RunDirError, TrainingDiverged)
        return args.func(args)
    except user_errors as err:
        print(f"kdssm: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kdssm: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
