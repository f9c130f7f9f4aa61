"""The sweep's objectives, in one place: what each is called by the trial's reports, by Optuna and in
pareto.json, and which way is better.

In order: the quality objective (search.accuracy_objective), the parameter count, and with
search.latency_objective the cost (search.cost_measure: the latency as a ratio to the matched filter
timed beside it, or the MACs per column). A trial reports `quality` as its best validation value so far
(so early stopping and the searcher see one figure), `params` and the cost as constants of its
architecture. pareto.py scores each on a unit scale under its `name`.
"""

from __future__ import annotations

from dataclasses import dataclass

from kdssm.config import SearchConfig

QUALITY_NAMES = ("accuracy", "nmse_valid_db")  # the choices of search.accuracy_objective


@dataclass(frozen=True)
class Objective:
    name: str  # in pareto.json and the unit-scale point (pareto.objectives)
    reported: str  # the key a trial reports to Tune
    label: str  # Optuna's metric name (optuna-dashboard shows it)
    mode: str  # "max" or "min", of the reported value


def quality(name: str = "accuracy") -> Objective:
    """The quality objective: validation accuracy (max) or valid-region NMSE in dB (min)."""
    if name not in QUALITY_NAMES:
        raise ValueError(f"quality objective {name!r}: expected one of {', '.join(QUALITY_NAMES)}")
    return Objective(name, "quality", f"val_{name}", "max" if name == "accuracy" else "min")


PARAMS = Objective("params", "params", "params", "min")
LATENCY = Objective("latency", "latency_vs_filter", "latency_vs_matched_filter", "min")
MACS = Objective("macs", "macs", "macs_per_column", "min")
COSTS = {"latency": LATENCY, "macs": MACS}  # search.cost_measure: its objective


def listed(quality_name: str = "accuracy", latency: bool = False, cost: str = "latency") -> list[Objective]:
    """The objectives in the order every consumer holds them."""
    return [quality(quality_name), PARAMS] + ([COSTS[cost]] if latency else [])


def of_search(search: SearchConfig) -> list[Objective]:
    return listed(search.accuracy_objective, search.latency_objective, search.cost_measure)
