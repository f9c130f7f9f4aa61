"""The search space: which config fields a sweep may search, their rules (`search.space` in YAML), the
default space, the rules as Optuna distributions, and a sampled point as a run config.

A rule is `{choices: [...]}` or `{low, high[, log]}`; every value it can produce must be one its field
accepts (the field's own type and bounds from kdssm.config), so a sweep fails in one line before any
trial starts, not in a trial.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated, Any

import optuna.distributions as od
from pydantic import ConfigDict, TypeAdapter, ValidationError

from kdssm.config import SECTIONS, ConfigError, RunConfig, SearchConfig, explain, is_even

# Searchable fields and the section each belongs to (names are unique across sections).
SPACE_PARAMS = {
    "model_dim": "model",
    "state_dim": "model",
    "later_state_dim": "model",
    "num_layers": "model",
    "bidirectional": "model",
    "gate_width": "model",
    "gate_hidden": "model",
    "gate_layers": "model",
    "valid_shrink": "model",
    "temperature": "distillation",
    "alpha": "distillation",
    "beta": "distillation",
    "gamma": "distillation",
    "preserve_distribution": "distillation",
    "teacher_bound": "distillation",
    "curriculum_epochs": "distillation",
    "stage_epochs": "distillation",
    "learning_rate": "training",
}

# The temperature is searchable but not searched by default: from 0.01 to 10 it moved a distilled student by
# under 0.02 dB, inside the run-to-run spread (benchmarks/results/distill_gain_temperature.json).
DEFAULT_SPACE = {
    "model_dim": {"choices": [4, 8, 16, 32]},
    "state_dim": {"choices": [16, 32, 64, 128]},
    "num_layers": {"low": 1, "high": 4},
    "beta": {"low": 0.0, "high": 0.5},
    "learning_rate": {"low": 1e-3, "high": 1e-2, "log": True},
}


def rules(search: SearchConfig) -> dict[str, dict]:
    """The searched fields and their rules: the config's, or the default space when it names none."""
    return DEFAULT_SPACE if search.space is None else search.space


def check(search: SearchConfig) -> None:
    """Every rule of the space names a searchable field and produces only values that field accepts."""
    for name, rule in rules(search).items():
        check_rule(name, rule)


def check_budget(cfg: RunConfig) -> None:
    """A search with something to choose and, with early stopping, a rung before the end of training."""
    s = cfg.search
    points = [rule.get("choices") for rule in rules(s).values()]
    if points and all(isinstance(c, list) and len(c) == 1 for c in points):
        raise ConfigError("search.space: holds a single configuration; a search needs two or more (see kdssm schema)")
    if s.early_stopping == "moasha" and importlib.util.find_spec("syne_tune") is None:
        raise ConfigError(
            "search.early_stopping: moasha needs syne-tune, which is not installed "
            "(pip install 'kdssm[moasha]'), or choose pareto_halving"
        )
    if s.early_stopping != "none" and s.grace_epochs >= cfg.training.num_epochs:
        raise ConfigError(
            f"search.grace_epochs: the first rung ({s.grace_epochs} epochs) is not before the end of training "
            f"(training.num_epochs {cfg.training.num_epochs}), so no student could be stopped early; lower it "
            "or set search.early_stopping none"
        )


def check_start(cfg: RunConfig) -> None:
    """distillation.init_layers fixes the student's depth and widths to the teacher's: a space that varies
    the model cannot start every student there."""
    varied = [name for name in rules(cfg.search) if SPACE_PARAMS[name] == "model"]
    if cfg.distillation.init_layers and varied:
        raise ConfigError(
            f"distillation.init_layers: the search space varies model.{varied[0]}, which the copied teacher "
            "layers fix; search the other fields (search.space), or start one student with kdssm distill"
        )


def _field_value(key: str, name: str, value: Any) -> Any:
    """`value` validated as the config field `name` would validate it (type and bounds)."""
    info = SECTIONS[SPACE_PARAMS[name]].model_fields[name]
    field_type = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    adapter = TypeAdapter(field_type, config=ConfigDict(strict=True, allow_inf_nan=False))
    try:
        return adapter.validate_python(value)
    except ValidationError as err:
        raise ConfigError(explain(key, err.errors()[0], info.annotation)) from None


def check_rule(name: str, rule: Any) -> None:
    """One search-space entry: a known field, and choices or a non-empty range the field accepts."""
    key = f"search.space.{name}"
    if name not in SPACE_PARAMS:
        raise ConfigError(f"{key}: unknown parameter (searchable: {', '.join(SPACE_PARAMS)})")
    if not isinstance(rule, dict):
        raise ConfigError(f"{key}: expected {{choices: [...]}} or {{low: ..., high: ...}}, got {rule!r}")
    unknown = set(rule) - {"choices", "low", "high", "log"}
    if unknown:
        raise ConfigError(f"{key}.{sorted(unknown)[0]}: unknown key (known: choices, high, log, low)")
    if "choices" in rule:
        if set(rule) != {"choices"}:
            raise ConfigError(f"{key}: give either choices or low/high, not both")
        if not isinstance(rule["choices"], list) or not rule["choices"]:
            raise ConfigError(f"{key}.choices: expected a non-empty list")
        for value in rule["choices"]:
            _field_value(key, name, value)
        return
    if SECTIONS[SPACE_PARAMS[name]].model_fields[name].annotation is bool:
        raise ConfigError(f"{key}: a true/false field takes choices, e.g. {{choices: [true, false]}}")
    if "low" not in rule or "high" not in rule:
        raise ConfigError(f"{key}: a range needs both low and high")
    low, high = rule["low"], rule["high"]
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low >= high:
        raise ConfigError(f"{key}: empty or inverted range (low {low!r} >= high {high!r})")
    low, high = _field_value(key, name, low), _field_value(key, name, high)
    if not isinstance(rule.get("log", False), bool):
        raise ConfigError(f"{key}.log: expected true or false, got {rule['log']!r}")
    if rule.get("log") and low <= 0:
        raise ConfigError(f"{key}: a log range needs low > 0, got {low!r}")


def distributions(search: SearchConfig) -> dict[str, od.BaseDistribution]:
    """One Optuna distribution per searched field (the rules checked by `check`)."""
    out = {}
    for name, rule in rules(search).items():
        section = SECTIONS[SPACE_PARAMS[name]]
        if "choices" in rule:
            out[name] = od.CategoricalDistribution(list(rule["choices"]))
        elif section.model_fields[name].annotation is int:
            even = is_even(section, name)  # state_dim: even sizes only
            out[name] = od.IntDistribution(
                rule["low"], rule["high"], log=bool(rule.get("log")), step=1 if rule.get("log") or not even else 2
            )
        else:
            out[name] = od.FloatDistribution(float(rule["low"]), float(rule["high"]), log=bool(rule.get("log")))
    return out


def apply(base: RunConfig, sample: dict) -> RunConfig:
    """The student run config of one trial: base with the sampled fields set (and validated again)."""
    overrides: dict[str, dict] = {}
    for name, value in sample.items():
        if name in SPACE_PARAMS:
            overrides.setdefault(SPACE_PARAMS[name], {})[name] = value.item() if hasattr(value, "item") else value
    model = overrides.get("model", {})
    if "gate_width" in model:  # a sampled width of 0 means no gate; any other width means gates
        model["use_selectivity"] = model["gate_width"] > 0
    return base.with_overrides(overrides)


SIZE_FIELDS = ("model_dim", "state_dim", "later_state_dim", "num_layers", "gate_width", "gate_hidden", "batch_size")


def largest(base: RunConfig, search: SearchConfig) -> RunConfig:
    """The trial config of the space's largest student (every size field at its top): what a trial's
    memory estimate is taken for. Categorical non-size fields keep the base's value."""
    sample = {}
    for name, rule in rules(search).items():
        if name in SIZE_FIELDS:
            sample[name] = max(rule["choices"]) if "choices" in rule else rule["high"]
    if sample.get("gate_width") == 0:
        sample.pop("gate_width")
    return apply(base, sample)
