"""The argparse pieces every subcommand shares: one-line errors, UserError, and `--print_config`."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import yaml


class UserError(ValueError):
    """Any mistake of the user's that deserves one line, not a traceback."""


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (sizes, lengths, counts)."""
    return _bounded_int(text, 1)


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0 (seeds, retries)."""
    return _bounded_int(text, 0)


def _bounded_int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (scales)."""
    return _bounded_float(text, 0.0, strict=True)


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0 (means, rates)."""
    return _bounded_float(text, 0.0, strict=False)


def _bounded_float(text: str, low: float, strict: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < low or (strict and value == low):
        raise argparse.ArgumentTypeError(f"must be a finite number {'>' if strict else '>='} {low:g}, got {text}")
    return value


def nonempty_path(text: str) -> str:
    """argparse type: a path that is not empty or blank (an empty one would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"kdssm: error: {message} (see `{self.prog} --help`)\n")


def options_yaml(args: argparse.Namespace) -> str:
    """A command's resolved options as YAML (for commands without a run config)."""
    options = {k: v for k, v in vars(args).items() if k not in ("func", "describe", "print_config", "command")}
    return yaml.safe_dump(options, sort_keys=False)


def add_print_config(parser: argparse.ArgumentParser, describe: Callable[[argparse.Namespace], str] | None = None):
    """`--print_config`: print what the command would run with (its run config, else its options) and exit."""
    parser.add_argument(
        "--print_config",
        "--print-config",
        action="store_true",
        help="print the resolved configuration (YAML, flags applied) and exit; nothing is run",
    )
    parser.set_defaults(describe=describe or options_yaml)
