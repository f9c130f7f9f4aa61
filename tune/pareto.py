"""The Pareto front of students over (accuracy, parameters), its hypervolume, pareto.json/.png and a table.

Objectives are minimised as (1 - accuracy, params / teacher params): both lie in [0, 1] for any
useful student, so the hypervolume against the fixed reference point (1, 1) is the share of that
unit square the front dominates (0: nothing; 1: a perfect student with no parameters), comparable
across sweeps of the same teacher. Optuna's WFG implementation computes it.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
from optuna._hypervolume import compute_hypervolume

from kdssm.metrics import retention

REFERENCE_POINT = (1.0, 1.0)
PARETO_JSON = "pareto.json"
PARETO_PNG = "pareto.png"


def dominates(a, b) -> bool:
    """a dominates b when it is no worse in every (minimised) objective and better in one."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def front_ranks(points: list[tuple[float, ...]]) -> list[int]:
    """Non-dominated sorting: 0 for the front, 1 for the front of the rest, ..."""
    ranks = [-1] * len(points)
    remaining = set(range(len(points)))
    level = 0
    while remaining:
        front = {i for i in remaining if not any(dominates(points[j], points[i]) for j in remaining if j != i)}
        for i in front:
            ranks[i] = level
        remaining -= front
        level += 1
    return ranks


def objectives(metrics: dict, teacher_params: int) -> tuple[float, float]:
    return (1.0 - float(metrics["accuracy"]), float(metrics["params"]) / float(teacher_params))


def hypervolume(points: list[tuple[float, float]]) -> float:
    """Area dominated by the points inside the reference box; points outside it add nothing."""
    inside = [p for p in points if all(v < r for v, r in zip(p, REFERENCE_POINT))]
    if not inside:
        return 0.0
    return float(compute_hypervolume(np.asarray(inside, dtype=float), np.asarray(REFERENCE_POINT, dtype=float)))


def beats_baseline(metrics: dict, baseline: dict) -> bool:
    """A student worth more than the matched filter: higher whole-column accuracy on the same columns.

    The filter has no parameters, so no student can dominate it in (accuracy, parameters); what a
    user asks is whether the student focuses better, which whole-column accuracy says.
    """
    return float(metrics["accuracy"]) > float(baseline["accuracy"])


def build(teacher: dict, trials: list[dict], folder: Path, baseline: dict) -> dict:
    """pareto.json's content. trials: {"trial_id", "config", "metrics", "checkpoint" (absolute path)};
    baseline: the matched filter's scores on the same columns."""
    points = [objectives(t["metrics"], teacher["params"]) for t in trials]
    ranks = front_ranks(points)
    front = sorted((t for t, r in zip(trials, ranks) if r == 0), key=lambda t: t["metrics"]["params"])

    def entry(t: dict) -> dict:
        return {"trial_id": t["trial_id"], "config": t["config"], "metrics": t["metrics"],
                "checkpoint": os.path.relpath(t["checkpoint"], folder),
                "beats_baseline": beats_baseline(t["metrics"], baseline)}
    return {
        "teacher": teacher,
        "baseline": {"name": "matched filter", **baseline},
        "hypervolume": hypervolume([p for p, r in zip(points, ranks) if r == 0]),
        "reference_point": {"one_minus_accuracy": REFERENCE_POINT[0], "params_over_teacher": REFERENCE_POINT[1]},
        "front": [entry(t) for t in front],
        "dominated": [entry(t) for t, r in zip(trials, ranks) if r > 0],
    }


def write(folder: Path, pareto: dict, stopped: list[str] = ()) -> None:
    """pareto.json and pareto.png; `stopped` names the trials early stopping ended (marked x in the plot)."""
    from kdssm.train.rundir import write_json
    write_json(folder / PARETO_JSON, pareto)
    plot(folder / PARETO_PNG, pareto, stopped)


def plot(path: Path, pareto: dict, stopped=()) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kdssm.checkpoint import atomic_write
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    dom = pareto["dominated"]
    if dom:
        ax.scatter([d["metrics"]["params"] for d in dom], [d["metrics"]["accuracy"] for d in dom],
                   c="0.6", label="dominated")
    ended = [e for e in pareto["front"] + dom if e["trial_id"] in set(stopped)]
    if ended:
        ax.scatter([e["metrics"]["params"] for e in ended], [e["metrics"]["accuracy"] for e in ended], marker="x",
                   s=60, c="k", label="stopped early at a rung", zorder=3)
    front = pareto["front"]
    ax.plot([f["metrics"]["params"] for f in front], [f["metrics"]["accuracy"] for f in front], "o-",
            c="tab:blue", drawstyle="steps-post", label="Pareto front")
    t = pareto["teacher"]
    ax.scatter([t["params"]], [t["accuracy"]], marker="*", s=180, c="tab:red", label="teacher")
    base = pareto.get("baseline")
    if base:  # no parameters: a line on the log axis; a student above it focuses better
        ax.axhline(base["accuracy"], ls="--", c="tab:green", lw=1.2, label="matched filter (0 params)")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("accuracy (test split)")
    ax.set_title(f"students: hypervolume {pareto['hypervolume']:.4f}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def table(pareto: dict) -> str:
    """The front beside the teacher and the matched filter: parameters, accuracy, retention, speed-up
    (latency ratio to the teacher), valid-region NMSE, and whether a student beats the filter."""
    t = pareto["teacher"]
    base = pareto.get("baseline")

    def speed(m: dict) -> float:
        return t["latency_ms_per_column"] / m["latency_ms_per_column"] if m.get("latency_ms_per_column") else math.nan
    rows = [("teacher", t, 1.0, "yes" if base and beats_baseline(t, base) else "")]
    if base:
        rows.append(("matched filter", base, retention(base["accuracy"], t["accuracy"]), ""))
    rows += [(f["trial_id"], f["metrics"], f["metrics"]["retention"],
              "yes" if f.get("beats_baseline") else "no" if base else "") for f in pareto["front"]]
    lines = [f"{'':<16}{'params':>10}{'accuracy':>10}{'retention':>11}{'speed-up':>10}{'valid dB':>10}"
             f"{'beats MF':>10}"]
    for name, m, ret, beats in rows:
        lines.append(f"{name:<16}{m['params']:>10,}{m['accuracy']:>10.4f}{ret:>11.4f}{speed(m):>9.2f}x"
                     f"{m['nmse_valid_db']:>10.2f}{beats:>10}")
    lines.append(f"hypervolume {pareto['hypervolume']:.4f} (reference: accuracy 0, the teacher's parameters); "
                 "beats MF: higher whole-column accuracy than the matched filter on the same columns")
    return "\n".join(lines)


def read(folder: Path) -> dict:
    path = Path(folder) / PARETO_JSON
    if not path.is_file():
        raise FileNotFoundError(path)
    return json.loads(path.read_text())
