"""Who each early-stopping rule stops at a rung: syne-tune's MOASHA (as 0.16 ships) beside pareto_halving.

    python benchmarks/moasha_priority.py [--trials 100] [--runs 20] [--objectives 2 3]

Trials arrive one at a time at a single rung (reduction factor 2) with points drawn uniformly in the unit
box (minimised objectives), as on a board where nothing is known in advance; each rule decides when a trial
arrives, against the trials recorded before it. Reported per rule: the fraction of arriving trials it
stopped among those on the front of their rung (no recorded trial dominates them: a multi-objective rule
should keep them) and among the dominated ones.

What it found (syne-tune 0.16): the NonDominatedPriority that MOASHA uses returns the trials' sort order
(the index of the best trial, then the next, ...) where the rung's Bracket reads a priority per trial, so
Bracket's `ranks[-1]` is the position of whichever trial sorted last, not the rank of the arriving trial;
the verdict is near chance. The boards here are the product's own (moasha.Moasha asks syne-tune's MOASHA
scheduler; rungs.ParetoHalving). Writes benchmarks/results/moasha_priority.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kdssm_tune.dominance import front_ranks
from kdssm_tune.moasha import Moasha
from kdssm_tune.rungs import ParetoHalving

RULES = {"moasha": Moasha, "pareto_halving": ParetoHalving}


def stopped_fractions(rule, trials: int, runs: int, objectives: int) -> dict:
    counts = {"non_dominated": [0, 0], "dominated": [0, 0]}  # [stopped, seen]
    for run in range(runs):
        rng = np.random.default_rng(run)
        board = rule(max_epochs=4, grace_epochs=2, reduction_factor=2)
        seen: list[tuple[float, ...]] = []
        for k in range(trials):
            point = tuple(float(v) for v in rng.random(objectives))
            on_front = front_ranks([*seen, point])[-1] == 0
            goes_on = board.decide(f"t{k}", 2, point)
            kind = counts["non_dominated" if on_front else "dominated"]
            kind[0] += not goes_on
            kind[1] += 1
            seen.append(point)
    return {kind: {"stopped": s / n, "trials": n} for kind, (s, n) in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100, help="trials arriving at the rung per run")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--objectives", type=int, nargs="+", default=[2, 3], help="numbers of objectives to try")
    args = parser.parse_args()
    result = {}
    for d in args.objectives:
        result[f"{d}_objectives"] = {
            name: stopped_fractions(rule, args.trials, args.runs, d) for name, rule in RULES.items()
        }
        for name, fractions in result[f"{d}_objectives"].items():
            print(d, name, {kind: round(f["stopped"], 3) for kind, f in fractions.items()})
    write_result(
        "moasha_priority",
        {"command": " ".join(sys.argv), "trials": args.trials, "runs": args.runs, "objectives": args.objectives}
        | {"stopped_fraction": result},
    )


if __name__ == "__main__":
    main()
