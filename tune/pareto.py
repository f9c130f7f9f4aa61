"""The Pareto front of students over the sweep's objectives, its hypervolume, pareto.json/.png and a table.

The front is chosen on the **validation** split, over every objective the search was configured
with (search.accuracy_objective, parameters, and latency with search.latency_objective): the same
figures the searcher and early stopping saw, so the test split is never used to choose and only
reports (test figures stand beside the validation ones in pareto.json and the table).

Objectives are minimised on a unit scale, each 1 at the reference point:
  accuracy       -> 1 - validation accuracy
  nmse_valid_db  -> validation valid-region NMSE as a ratio, 10^(dB / 10) (1: no better than zero output)
  params         -> parameters / teacher parameters
  latency        -> latency / teacher latency, each a ratio to the matched filter timed beside it (CPU, batch 32)
  macs           -> multiply-accumulates per column / the teacher's (models/cost.py)
Every useful student lies inside the unit box, so the hypervolume against (1, ..., 1) is the share of
it the front dominates (0: nothing; 1: a perfect student with no parameters), comparable across
sweeps of the same teacher and objectives.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from kdssm.metrics import retention
from kdssm.report import aligned

from . import objectives as goals
from .dominance import front_ranks
from .hypervolume import hypervolume as volume

PARETO_JSON = "pareto.json"
PARETO_PNG = "pareto.png"


def objective_names(quality: str = "accuracy", latency: bool = False, cost: str = "latency") -> list[str]:
    """The sweep's objectives in order (objectives.py): the quality one, parameters[, latency or macs]."""
    return [o.name for o in goals.listed(quality, latency, cost)]


def objectives(metrics: dict, teacher: dict, names: list[str], split: str = "val") -> tuple[float, ...]:
    """A student's minimised unit-scale point (module docstring); split "val" selects, "test" reports."""
    prefix = "val_" if split == "val" else ""
    out = []
    for name in names:
        if name == "accuracy":
            out.append(1.0 - float(metrics[f"{prefix}accuracy"]))
        elif name == "nmse_valid_db":
            out.append(10.0 ** (float(metrics[f"{prefix}nmse_valid_db"]) / 10.0))
        elif name == "params":
            out.append(float(metrics["params"]) / float(teacher["params"]))
        elif name == "macs":
            out.append(float(metrics["macs_per_column"]) / float(teacher["macs_per_column"]))
        else:  # latency: both as ratios to the matched filter timed beside them (load cancels in part)
            out.append(float(metrics["latency_vs_filter"]) / float(teacher["latency_vs_filter"]))
    return tuple(out)


def hypervolume(points: list[tuple[float, ...]]) -> float:
    """Volume the points dominate inside the unit box (reference point (1, ..., 1)); outside points add 0."""
    return volume(points, (1.0,) * len(points[0])) if points else 0.0


def beats_baseline(metrics: dict, baseline: dict) -> bool:
    """A student worth more than the matched filter: higher whole-column accuracy on the same columns.

    The filter has no parameters, so no student can dominate it in (accuracy, parameters); what a
    user asks is whether the student focuses better, which whole-column accuracy says.
    """
    return float(metrics["accuracy"]) > float(baseline["accuracy"])


def build(teacher: dict, trials: list[dict], folder: Path, baseline: dict, names: list[str]) -> dict:
    """pareto.json's content. trials: {"trial_id", "config", "metrics" (callbacks.trial_metrics: validation
    figures as val_*), "checkpoint" (absolute path)}; teacher and baseline: test scores and "validation"
    ones of the teacher and the matched filter on the same columns; names: objective_names(...)."""
    points = [objectives(t["metrics"], teacher, names) for t in trials]
    ranks = front_ranks(points)
    front = sorted((t for t, r in zip(trials, ranks) if r == 0), key=lambda t: t["metrics"]["params"])

    def entry(t: dict) -> dict:
        return {
            "trial_id": t["trial_id"],
            "config": t["config"],
            "metrics": t["metrics"],
            "checkpoint": os.path.relpath(t["checkpoint"], folder),
            "beats_baseline": beats_baseline(t["metrics"], baseline),
        }

    return {
        "teacher": teacher,
        "baseline": {"name": "matched filter", **baseline},
        "selected_on": "validation",
        "objectives": names,
        "hypervolume": hypervolume([p for p, r in zip(points, ranks) if r == 0]),
        "hypervolume_test": hypervolume([objectives(t["metrics"], teacher, names, "test") for t in front]),
        "reference_point": dict.fromkeys(names, 1.0),
        "front": [entry(t) for t in front],
        "dominated": [entry(t) for t, r in zip(trials, ranks) if r > 0],
    }


def hypervolume_history(points: list[tuple[float, ...]]) -> list[float]:
    """The front's hypervolume after each point, in the order given (trials in the order they finished)."""
    out = []
    for k in range(1, len(points) + 1):
        seen = points[:k]
        out.append(hypervolume([p for p, r in zip(seen, front_ranks(seen)) if r == 0]))
    return out


def plot_history(path: Path, history: list[float]) -> None:
    """hypervolume.png: how the front grew as students finished."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kdssm.files import atomic_write

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    ax.plot(range(1, len(history) + 1), history, "o-", drawstyle="steps-post", c="tab:blue")
    ax.set_xlabel("students finished")
    ax.set_ylabel("hypervolume (validation front)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def chosen(pareto: dict) -> dict[str, dict]:
    """The front's two named students (registry aliases): best-accuracy (or best-nmse-valid, after the
    validation quality objective) and smallest."""
    quality = pareto.get("objectives", ["accuracy"])[0]
    front = pareto["front"]
    if quality == "accuracy":
        best = max(front, key=lambda e: e["metrics"]["val_accuracy"])
    else:
        best = min(front, key=lambda e: e["metrics"]["val_nmse_valid_db"])
    return {
        f"best-{quality.removesuffix('_db').replace('_', '-')}": best,
        "smallest": min(front, key=lambda e: e["metrics"]["params"]),
    }


def write(folder: Path, pareto: dict, stopped: list[str] = ()) -> None:
    """pareto.json and pareto.png; `stopped` names the trials early stopping ended (marked x in the plot)."""
    from kdssm.train.rundir import write_json

    write_json(folder / PARETO_JSON, pareto)
    plot(folder / PARETO_PNG, pareto, stopped)


def plotted_quality(pareto: dict) -> tuple[str, str]:
    """(metric key, axis label) of the validation quality objective the front was chosen on."""
    if pareto.get("objectives", ["accuracy"])[0] == "accuracy":
        return "accuracy", "accuracy (validation split)"
    return "nmse_valid_db", "valid-region NMSE, dB (validation split)"


def plot(path: Path, pareto: dict, stopped=()) -> None:
    """Validation quality against parameters (a 3-objective front shows its projection on these two)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kdssm.files import atomic_write

    key, label = plotted_quality(pareto)

    def xy(entries):
        return [e["metrics"]["params"] for e in entries], [e["metrics"][f"val_{key}"] for e in entries]

    fig, ax = plt.subplots(figsize=(8.6, 4.4))
    dom = pareto["dominated"]
    if dom:
        ax.scatter(*xy(dom), c="0.6", label="dominated")
    ended = [e for e in pareto["front"] + dom if e["trial_id"] in set(stopped)]
    if ended:
        ax.scatter(*xy(ended), marker="x", s=60, c="k", label="stopped early at a rung", zorder=3)
    front = sorted(pareto["front"], key=lambda e: e["metrics"]["params"])
    ax.step(*xy(front), "-o", where="post", c="tab:blue", label="Pareto front (validation)")
    t = pareto["teacher"]
    ax.scatter([t["params"]], [t["validation"][key]], marker="*", s=180, c="tab:red", label="teacher")
    base = pareto.get("baseline")
    if base:  # no parameters: a line on the log axis; a student above it focuses better
        ax.axhline(base["validation"][key], ls="--", c="tab:green", lw=1.2, label="matched filter (0 params)")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(label)
    objectives = " x ".join(pareto.get("objectives", ["accuracy", "params"]))
    ax.set_title(f"students ({objectives}): hypervolume {pareto['hypervolume']:.4f}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, borderaxespad=0.0)  # off the data
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def table(pareto: dict) -> str:
    """The front beside the teacher and the matched filter: parameters, validation accuracy (what chose
    the front), test accuracy, retention and valid-region NMSE (what reports it), speed-up (latency ratio
    to the teacher), and whether a student beats the filter on the test columns."""
    t = pareto["teacher"]
    base = pareto.get("baseline")

    def speed(m: dict) -> float:
        return t["latency_ms_per_column"] / m["latency_ms_per_column"] if m.get("latency_ms_per_column") else math.nan

    def val_accuracy(m: dict) -> float:
        return m["validation"]["accuracy"] if "validation" in m else m.get("val_accuracy", math.nan)

    rows = [("teacher", t, 1.0, "yes" if base and beats_baseline(t, base) else "")]
    if base:
        rows.append(("matched filter", base, retention(base["accuracy"], t["accuracy"]), ""))
    rows += [
        (
            f["trial_id"],
            f["metrics"],
            f["metrics"]["retention"],
            "yes" if f.get("beats_baseline") else "no" if base else "",
        )
        for f in pareto["front"]
    ]
    cells = [["", "params", "val acc", "test acc", "retention", "speed-up", "valid dB", "beats MF"]]
    for name, m, ret, beats in rows:
        cells.append(
            [
                name,
                f"{m['params']:,}",
                f"{val_accuracy(m):.4f}",
                f"{m['accuracy']:.4f}",
                f"{ret:.4f}",
                f"{speed(m):.2f}x",
                f"{m['nmse_valid_db']:.2f}",
                beats,
            ]
        )
    lines = [aligned(cells)]
    objectives = ", ".join(pareto.get("objectives", ["accuracy", "params"]))
    lines.append(
        f"front chosen on validation over ({objectives}); hypervolume {pareto['hypervolume']:.4f} "
        f"(the same front on test: {pareto.get('hypervolume_test', math.nan):.4f}; reference: the "
        "teacher's parameters and latency, accuracy 0). test acc, retention, valid dB, beats MF: test "
        "split; beats MF: higher whole-column accuracy than the matched filter on the same columns"
    )
    return "\n".join(lines)


def read(folder: Path) -> dict:
    path = Path(folder) / PARETO_JSON
    if not path.is_file():
        raise FileNotFoundError(path)
    return json.loads(path.read_text())
