"""Figures and datasets as MLflow takes them: flat parameter names, finite scalar metrics, dataset records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def flat(prefix: str, data: dict) -> dict[str, object]:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flat(f"{prefix}{key}.", value))
        else:
            out[f"{prefix}{key}"] = value
    return out


def scalar_metrics(summary: dict, prefix: str = "") -> dict[str, float]:
    """The numbers of a summary.json (teacher and matched-filter figures prefixed)."""
    out = {}
    for key, value in flat(prefix, summary).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
            out[key] = float(value)
    return out


def tag_value(value) -> str:
    """A tag as a reviewer reads it: numbers at 4 significant digits, anything else as JSON."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value)


def dataset_record(
    name: str, digest: str, source: dict | str, columns: int, length: int | None, labelled: bool
) -> dict:
    """What MLflow's Dataset column shows of a split: a plain dict (picklable into Tune callbacks).
    source: the simulator's settings (a dict) or the .npz file's path; length None: not known here."""
    local = isinstance(source, str)
    return {
        "name": name,
        "digest": digest[:36],
        "source_type": "local" if local else "code",
        "source": Path(source).resolve().as_uri() if local else json.dumps(source, sort_keys=True),
        "profile": json.dumps({"columns": columns, "length": length, "labelled": labelled}),
    }
