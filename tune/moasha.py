"""syne-tune's MOASHA as a rule of the rung board (search.early_stopping: moasha): the peer of pareto_halving.

MOASHA (Schmucker et al., 2021, as syne-tune 0.16 implements it) and pareto_halving (rungs.py) share the
rungs (grace_epochs x reduction_factor^k) and the asynchronous pass of the first trials at a rung. They
differ in who goes on: syne-tune orders the trials at a rung by non-dominated sort, breaking ties within a
front by its epsilon-net (NonDominatedPriority), and stops a trial whose rank is past 1/reduction_factor,
even one on the first front; pareto_halving keeps every non-dominated trial. The decision is syne-tune's
own (its MOASHA scheduler told each trial's result at the rung); the board keeps what every board keeps
(the points per rung, the verdicts, the stopped trials, in one JSON file) and replays the points into a
new MOASHA when it starts again, so a resumed sweep judges against everything seen before.
"""

from __future__ import annotations

from datetime import datetime

import ray

from .rungs import BOARD_OPTIONS, ParetoHalving, RungBoard

TIME = "epoch"  # the result's progress field MOASHA compares rungs on


class Moasha(ParetoHalving):
    """The rung board with syne-tune's MOASHA deciding. Points are minimisation vectors, as on every board."""

    RULE = "moasha"

    def __init__(self, max_epochs: int, grace_epochs: int = 2, reduction_factor: int = 2, path: str | None = None):
        self.max_epochs, self.grace_epochs = max_epochs, grace_epochs
        self.scheduler = None  # syne-tune's MOASHA, made at the first point (it needs the number of objectives)
        super().__init__(max_epochs, grace_epochs, reduction_factor, path)
        for rung in self.rungs:  # the rungs are independent: replaying each in its order restores MOASHA's state
            for trial_id in self.recorded[rung]:
                self.goes_on(rung, trial_id)

    def goes_on(self, rung: int, trial_id: str) -> bool:
        from syne_tune.backend.trial_status import Trial
        from syne_tune.optimizer.scheduler import SchedulerDecision

        point = self.recorded[rung][trial_id]
        names = [f"objective_{k}" for k in range(len(point))]
        if self.scheduler is None:
            self.scheduler = self._moasha(names)
        trial = Trial(trial_id=trial_id, config={}, creation_time=datetime.now())
        if trial_id not in self.scheduler.trial_info:
            self.scheduler.on_trial_add(trial)
        decision = self.scheduler.on_trial_result(trial, {TIME: rung, **dict(zip(names, point))})
        return decision == SchedulerDecision.CONTINUE

    def _moasha(self, names: list[str]):
        from syne_tune.optimizer.schedulers.multiobjective.moasha import MOASHA

        return MOASHA(
            config_space={},  # kdssm's sampler proposes the students; MOASHA only stops them
            metrics=names,
            do_minimize=True,
            time_attr=TIME,
            max_t=self.max_epochs,
            grace_period=self.grace_epochs,
            reduction_factor=self.reduction_factor,
            brackets=1,  # one bracket: no random choice between brackets, so a replay is exact
        )


MoashaBoard = ray.remote(**BOARD_OPTIONS)(Moasha)
BOARDS = {"pareto_halving": RungBoard, "moasha": MoashaBoard}  # search.early_stopping -> the board's actor class
