"""Early stopping for a multi-objective search: successive halving on Pareto ranks (MO-ASHA).

Ray's ASHA ranks trials by one metric. Ranked by accuracy alone, small students, which learn more
slowly and end lower, would be stopped first although they are exactly what a compression search
looks for. Here, as in MO-ASHA (Schmucker et al., 2021), a trial reaching a rung (grace_epochs x
reduction_factor^k epochs) is compared with every trial that reached the same rung on all
objectives at once: trials are ordered by non-dominated front, then by crowding distance within a
front (NSGA-II), and the best 1/reduction_factor continue, together with every trial on the first
front: only dominated trials are ever stopped. A small student therefore stays unless another
student at least as small is also more accurate at that rung, so the rule has no bias against size;
parameters are known from the start, so it needs no extra measurement. Like ASHA it is asynchronous:
a trial is never paused to wait for others, and the first trials at a rung pass.

The decision is taken in the trial's own training loop (StopAtRung) against one shared board (a Ray
actor), not by a Tune scheduler: Tune stops a trial by killing it, which under Ray Train V2
leaves the run's placement group behind unless Ray's dashboard is running, and loses the student.

The board must not forget: a resumed sweep that judged its next trials against an empty rung would
let dominated students through, and a restarted trial could get a second, different verdict. So
every verdict is written to a JSON file in the sweep folder (atomically) and read back when a board
starts; Ray restarts a dead board actor (max_restarts) with the same file, and retries the calls
that were in flight (max_task_retries). A board that cannot be reached lets the trial go on (it is
early stopping, never a reason to lose a trial), and a restarted trial starts from its best value
so far (StopAtRung's `best`, from its history).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytorch_lightning as pl
import ray

from .pareto import front_ranks


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
        for rung, points in state["recorded"].items():
            self.recorded[int(rung)] = {trial: tuple(p) for trial, p in points.items()}
        self.verdicts = {(int(rung), trial): bool(go) for rung, trial, go in state["verdicts"]}
        self.stopped = list(state["stopped"])

    def _save(self) -> None:
        from kdssm.checkpoint import atomic_write

        state = {
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
        seen = self.recorded[rung]
        seen[trial_id] = point
        if len(seen) < self.reduction_factor or trial_id in keep_best(seen, 1.0 / self.reduction_factor):
            return True
        self.stopped.append(trial_id)
        return False

    def was_stopped(self, trial_id: str) -> bool:
        return trial_id in self.stopped


RungBoard = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(ParetoHalving)


def ask(call, default):
    """ray.get of a board call; the default (go on / not stopped) when the board cannot be reached."""
    try:
        return ray.get(call, timeout=120)
    except (ray.exceptions.RayError, TimeoutError) as err:
        warnings.warn(f"early stopping board unreachable ({type(err).__name__}); the trial goes on", stacklevel=2)
        return default


class StopAtRung(pl.Callback):
    """In every Ray Train worker: at a rung, ask the board; a stopped trial ends its training loop cleanly.

    Stopping from inside keeps the run's own shutdown (its workers and placement group are released,
    its best epoch is scored and kept) instead of Tune killing the trial mid-step. Rank 0 asks and
    broadcasts, so every rank stops at the same epoch.
    """

    def __init__(
        self, board, trial_id: str, metric: str, mode: str, constants: tuple[float, ...], best: float | None = None
    ):
        """best: the trial's best value before a restart (from its history), so a resumed trial is judged
        on its whole run, not on the epochs since the restart."""
        self.board, self.trial_id, self.metric, self.mode, self.constants = board, trial_id, metric, mode, constants
        self.best = best

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        go_on = True
        if trainer.global_rank == 0 and self.metric in trainer.callback_metrics:
            value = float(trainer.callback_metrics[self.metric])
            if better(value, self.best, self.mode):
                self.best = value
            quality = -self.best if self.mode == "max" else self.best
            go_on = ask(
                self.board.decide.remote(self.trial_id, trainer.current_epoch + 1, (quality, *self.constants)), True
            )
        if trainer.world_size > 1:
            go_on = trainer.strategy.broadcast(go_on, src=0)
        if not go_on:
            trainer.should_stop = True
