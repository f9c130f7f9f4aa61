"""The search space of configs (search.space) as Optuna distributions, and a sampled point as a run config."""
from __future__ import annotations

import typing

import optuna.distributions as od

from kdssm.config import SECTIONS, SPACE_PARAMS, RunConfig, SearchConfig


def distributions(search: SearchConfig) -> dict[str, od.BaseDistribution]:
    """One Optuna distribution per searched field (the YAML was validated by SearchConfig)."""
    out = {}
    for name, rule in search.space.items():
        section = SECTIONS[SPACE_PARAMS[name]]
        tp = typing.get_type_hints(section)[name]
        if "choices" in rule:
            out[name] = od.CategoricalDistribution(list(rule["choices"]))
        elif tp is int:
            even = section.__dataclass_fields__[name].metadata["even"]  # state_dim: even sizes only
            out[name] = od.IntDistribution(rule["low"], rule["high"], log=bool(rule.get("log")),
                                           step=1 if rule.get("log") or not even else 2)
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


SIZE_FIELDS = ("model_dim", "state_dim", "num_layers", "gate_width", "gate_hidden", "batch_size")


def largest(base: RunConfig, search: SearchConfig) -> RunConfig:
    """The trial config of the space's largest student (every size field at its top): what a trial's
    memory estimate is taken for. Categorical non-size fields keep the base's value."""
    sample = {}
    for name, rule in search.space.items():
        if name in SIZE_FIELDS:
            sample[name] = max(rule["choices"]) if "choices" in rule else rule["high"]
    if sample.get("gate_width") == 0:
        sample.pop("gate_width")
    return apply(base, sample)
