"""Flags from the config models: `--<field>` for the fields a command offers, `--set` for any other.

Booleans work bare (`--progressive_coupling`) or with a value (`--bidirectional false`); lists take
integers separated by spaces or commas; mappings (search.space, model.geometry, data.train_scenes) are set in YAML only.
"""

from __future__ import annotations

import argparse
import typing
from pathlib import Path

import yaml

from ..config import RunConfig, field_index
from ..config.base import parse_yaml, without_none

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# The config fields each command offers as flags, by section; every other field is set in the YAML or
# with `--set section.field=value` (offered by every command that takes flags).
MODEL = (
    "model_dim", "state_dim", "later_state_dim", "num_layers", "use_selectivity", "gate_layers", "gate_width",
    "bidirectional", "init", "activation", "norm",
)  # fmt: skip
DATA = ("preset", "train_size", "val_size", "test_size", "train_npz", "val_npz", "test_npz", "products")
UNLABELLED = ("unlabelled_size", "unlabelled_seed", "unlabelled_npz")
TRAINING = (
    "num_epochs", "batch_size", "learning_rate", "ssm_learning_rate", "weight_decay", "loss", "freeze_focus",
    "early_stopping_patience", "select_on", "max_minutes", "seed", "accelerator", "precision",
)  # fmt: skip
DISTILLATION = (
    "temperature", "alpha", "beta", "gamma", "curriculum_epochs", "progressive_coupling", "stage_epochs",
    "teacher_layers", "student_layers", "init_layers", "enhanced_projections", "preserve_distribution",
)  # fmt: skip
SEARCH = (
    "num_samples", "sampler", "accuracy_objective", "latency_objective", "workers_per_trial",
    "max_concurrent_trials", "early_stopping", "search_seed",
)  # fmt: skip
TRACKING = ("tracking_uri", "experiment", "register_front", "registered_model")
GROUND_TRUTH = {"model": MODEL, "data": DATA, "training": TRAINING}  # train, demo, plan
STUDENT = {"model": MODEL, "data": DATA + UNLABELLED, "training": TRAINING, "distillation": DISTILLATION}
SWEEP = {**STUDENT, "search": SEARCH, "tracking": TRACKING}


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


def _metavar(name: str, kind) -> str:
    if name.endswith("_npz"):
        return "PATH"
    if name == "products":
        return "PATHS"
    if name.endswith("_uri"):
        return "URI"
    return {_parse_bool: "BOOL", int: "N", float: "X", _parse_int_list: "N", str: "VALUE"}[kind]


def add_config_flags(
    parser: argparse.ArgumentParser, offered: dict[str, tuple[str, ...]], aliases: dict[str, str] | None = None
) -> None:
    """--<field> for the fields `offered` ({section: fields}), overriding the YAML value, and --set for
    any other field. aliases: {field: another flag name for it} (the seed's --student_model_dim)."""
    index = field_index()
    for section, names in offered.items():
        group = parser.add_argument_group(f"{section} (config section; YAML values overridden)")
        for name in names:
            held, info = index[name]
            assert held == section, (section, name)
            kind = _flag_type(info.annotation)
            flag_names = [name, *([aliases[name]] if aliases and name in aliases else [])]
            flags = [f"--{f}" for f in flag_names] + [f"--{f.replace('_', '-')}" for f in flag_names if "_" in f]
            extra = {"nargs": "?", "const": True} if kind is _parse_bool else {}
            if kind is _parse_int_list:
                extra = {"nargs": "+"}
            bare = without_none(info.annotation)
            if typing.get_origin(bare) is typing.Literal:  # argparse shows the choices, no metavar
                extra["choices"] = typing.get_args(bare)
            group.add_argument(
                *flags,
                dest=f"cfg__{section}__{name}",
                default=None,
                metavar=None if "choices" in extra else _metavar(name, kind),
                help=(info.description or "").replace("%", "%%"),
                type=kind,
                **extra,
            )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="any config field without a flag, e.g. --set model.dropout=0.1 (YAML value syntax; repeatable)",
    )


def _set_overrides(items: list[str]) -> dict[str, dict]:
    """--set section.field=value items as overrides; a malformed one is a one-line UserError."""
    from .parser import UserError

    out: dict[str, dict] = {}
    for item in items:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not (sep and dot and section and name):
            raise UserError(f"--set {item}: expected section.field=value, e.g. model.dropout=0.1")
        if section not in RunConfig.model_fields:
            known = ", ".join(RunConfig.model_fields)
            raise UserError(f"--set {item}: no config section {section!r} (sections: {known})")
        try:
            value = parse_yaml(text) if text.strip() else None
        except yaml.YAMLError:
            raise UserError(f"--set {item}: the value is not YAML") from None
        out.setdefault(section, {})[name] = value
    return out


def _flatten(value):
    """nargs='+' of comma lists -> one flat list."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [v for part in value for v in part]
    return value


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict]:
    out = _set_overrides(getattr(args, "set", []))
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
