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

import warnings

import pytorch_lightning as pl
import ray

from .rungs import better


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
