"""The rungs of early_stop.py's successive halving on Pareto ranks: the rule (ParetoHalving) and the
board every trial asks (RungBoard, a Ray actor). moasha.py holds a peer rule, syne-tune's MOASHA, on the
same board.

Torch and Lightning stay out of this module: the board runs in a Ray actor process of its own, which
imports only what the board's class needs. With them (through early_stop.py's Lightning callback) its
start-up cost 3.3 s of CPU beside the first two trials' on the 2-core machine.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import ray

from kdssm.files import atomic_write

from .dominance import front_ranks


def better(value: float, best: float | None, mode: str) -> bool:
    """value improves on best (None: nothing yet) for a metric maximised (mode "max") or minimised."""
    return best is None or (value > best if mode == "max" else value < best)


def crowding(points: list[tuple[float, ...]]) -> list[float]:
    """NSGA-II crowding distance of each point within its set (boundary points: infinity)."""
    n = len(points)
    dist = [0.0] * n
    if n <= 2:
        return [math.inf] * n
    for m in range(len(points[0])):
        order = sorted(range(n), key=lambda i: points[i][m])
        span = points[order[-1]][m] - points[order[0]][m] or 1.0
        dist[order[0]] = dist[order[-1]] = math.inf
        for k in range(1, n - 1):
            dist[order[k]] += (points[order[k + 1]][m] - points[order[k - 1]][m]) / span
    return dist


def keep_best(points: dict[str, tuple[float, ...]], fraction: float) -> set[str]:
    """The ids of the best ceil(fraction * n) points by (front, -crowding), and every non-dominated one."""
    ids = list(points)
    vectors = [points[i] for i in ids]
    ranks = front_ranks(vectors)
    crowd = [0.0] * len(ids)
    for level in set(ranks):
        members = [k for k, r in enumerate(ranks) if r == level]
        for k, d in zip(members, crowding([vectors[k] for k in members])):
            crowd[k] = d
    order = sorted(range(len(ids)), key=lambda k: (ranks[k], -crowd[k]))
    return {ids[k] for k in order[: math.ceil(fraction * len(ids))]} | {ids[k] for k in order if ranks[k] == 0}


class ParetoHalving:
    """The rung records and decisions; a Ray actor (RungBoard) shares one instance across all trials.

    Points are minimisation vectors (quality negated when it is maximised, parameters, latency).
    """

    RULE = "pareto_halving"  # search.early_stopping; kept in the file, so a resume cannot switch rules

    def __init__(self, max_epochs: int, grace_epochs: int = 2, reduction_factor: int = 2, path: str | None = None):
        """path: the JSON file the board is kept in (read back when it exists); None: memory only."""
        self.reduction_factor = reduction_factor
        self.rungs = []
        rung = grace_epochs
        while rung < max_epochs:
            self.rungs.append(rung)
            rung *= reduction_factor
        self.recorded: dict[int, dict[str, tuple[float, ...]]] = {r: {} for r in self.rungs}
        self.verdicts: dict[tuple[int, str], bool] = {}
        self.stopped: list[str] = []
        self.path = Path(path) if path else None
        if self.path is not None and self.path.is_file():
            self._load(json.loads(self.path.read_text()))

    def _load(self, state: dict) -> None:
        if state.get("rungs") != self.rungs:
            raise ValueError(f"{self.path}: kept for rungs {state.get('rungs')}, this sweep has {self.rungs}")
        if state.get("rule", ParetoHalving.RULE) != self.RULE:
            raise ValueError(f"{self.path}: kept by early stopping {state.get('rule')}, this sweep has {self.RULE}")
        for rung, points in state["recorded"].items():
            self.recorded[int(rung)] = {trial: tuple(p) for trial, p in points.items()}
        self.verdicts = {(int(rung), trial): bool(go) for rung, trial, go in state["verdicts"]}
        self.stopped = list(state["stopped"])

    def _save(self) -> None:
        state = {
            "rule": self.RULE,
            "rungs": self.rungs,
            "recorded": {str(r): {t: list(p) for t, p in pts.items()} for r, pts in self.recorded.items()},
            "verdicts": [[r, t, go] for (r, t), go in self.verdicts.items()],
            "stopped": self.stopped,
        }
        atomic_write(self.path, lambda tmp: Path(tmp).write_text(json.dumps(state) + "\n"))

    def decide(self, trial_id: str, epochs_done: int, point: tuple[float, ...]) -> bool:
        """True: go on. Judged once per rung, when the trial first reaches it (a resumed trial gets the same)."""
        for rung in reversed(self.rungs):
            if epochs_done >= rung:
                if (rung, trial_id) not in self.verdicts:
                    self.verdicts[(rung, trial_id)] = self._judge(rung, trial_id, tuple(point))
                    if self.path is not None:
                        self._save()
                return self.verdicts[(rung, trial_id)]
        return True

    def _judge(self, rung: int, trial_id: str, point: tuple[float, ...]) -> bool:
        self.recorded[rung][trial_id] = point
        if self.goes_on(rung, trial_id):
            return True
        self.stopped.append(trial_id)
        return False

    def goes_on(self, rung: int, trial_id: str) -> bool:
        """The rule, once the trial's point is recorded at the rung: the first trials at a rung pass, then
        the best 1/reduction_factor by (front, crowding) and every non-dominated one."""
        seen = self.recorded[rung]
        return len(seen) < self.reduction_factor or trial_id in keep_best(seen, 1.0 / self.reduction_factor)

    def was_stopped(self, trial_id: str) -> bool:
        return trial_id in self.stopped


BOARD_OPTIONS = {"num_cpus": 0, "max_restarts": -1, "max_task_retries": -1}  # restarted with its file, calls retried
RungBoard = ray.remote(**BOARD_OPTIONS)(ParetoHalving)
