"""Flags from the config models: `--<field>` for every field of every section, parsed into overrides.

Booleans work bare (`--progressive_coupling`) or with a value (`--bidirectional false`); lists take
integers separated by spaces or commas; mappings (search.space, model.geometry, data.train_scenes) are set in YAML only.
"""

from __future__ import annotations

import argparse
import typing
from pathlib import Path

from ..config import RunConfig, field_index
from ..config.base import without_none

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FLAG_NAMES = {("data", "preset"): "data_preset"}  # flag names that differ (`--preset` is a student size in distill)


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


def _flag_type(annotation):
    """The argparse type of a field (None for a mapping, which has no flag)."""
    annotation = without_none(annotation)
    if annotation is dict or typing.get_origin(annotation) is dict:
        return None
    if typing.get_origin(annotation) is list:
        return _parse_int_list
    if typing.get_origin(annotation) is typing.Literal:
        annotation = type(typing.get_args(annotation)[0])
    return {bool: _parse_bool, int: int, float: float, str: str}[annotation]


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """--<field> for every config field (dashes accepted too), overriding the YAML value."""
    for name, (section, info) in field_index().items():
        kind = _flag_type(info.annotation)
        if kind is None:
            continue
        flag = FLAG_NAMES.get((section, name), name)
        flags = [f"--{flag}"] + ([f"--{flag.replace('_', '-')}"] if "_" in flag else [])
        extra = {"nargs": "?", "const": True} if kind is _parse_bool else {}
        if kind is _parse_int_list:
            extra = {"nargs": "+"}
        parser.add_argument(
            *flags,
            dest=f"cfg__{section}__{name}",
            default=None,
            metavar=flag.upper(),
            help=f"[{section}] {info.description}".replace("%", "%%"),
            type=kind,
            **extra,
        )


def _flatten(value):
    """nargs='+' of comma lists -> one flat list."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [v for part in value for v in part]
    return value


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, value in vars(args).items():
        if key.startswith("cfg__") and value is not None:
            _, section, name = key.split("__")
            out.setdefault(section, {})[name] = _flatten(value)
    return out


def load_config(path: str | Path | None, args: argparse.Namespace, default: Path | None = None) -> RunConfig:
    """The YAML at `path` (else `default`, else the defaults) with the flags on top, validated."""
    source = Path(path) if path else default
    cfg = RunConfig.from_file(source) if source else RunConfig()
    return cfg.with_overrides(overrides_from_args(args))
