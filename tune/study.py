"""The Optuna side of a sweep: the sampler, the sqlite study with named objectives, and the searcher that
tells Optuna which trials were stopped early."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import optuna
from ray.tune.schedulers import FIFOScheduler
from ray.tune.search.optuna import OptunaSearch

from kdssm.config import RunConfig

from . import objectives as goals

OPTUNA_DB, STUDY = "optuna.db", "kdssm"
RESAMPLES = 20  # tries for a configuration no earlier trial had


def sampler(cfg: RunConfig) -> optuna.samplers.BaseSampler:
    s = cfg.search
    if s.sampler == "nsga2":  # population: half the trials, so that a small sweep still breeds a generation
        return optuna.samplers.NSGAIISampler(population_size=max(2, min(50, s.num_samples // 2)), seed=s.search_seed)
    if s.sampler == "tpe":
        return optuna.samplers.TPESampler(
            n_startup_trials=max(2, min(10, s.num_samples // 2)), multivariate=True, seed=s.search_seed
        )
    return optuna.samplers.RandomSampler(seed=s.search_seed)


class StudyLinks:
    """What the searcher and the MLflow callback, both in the sweep's driver, tell each other about a Tune
    trial: its Optuna trial number and its MLflow run id. Kept in memory (a resumed sweep links the trials
    it runs from then on); the Optuna trial's user attributes and the MLflow run's tags keep them."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}  # Tune trial id -> Optuna trial number
        self.runs: dict[str, str] = {}  # Tune trial id -> MLflow run id


class ParetoHalvingScheduler(FIFOScheduler):
    """Tune runs trials first in, first out; the stopping is the rung board's (rungs.py). This name is
    what Tune's console shows, so it says which early stopping acts instead of "FIFOScheduler"."""

    RULE = "pareto_halving"

    def debug_string(self) -> str:
        return f"Trials run first in, first out; dominated students stop at rungs (kdssm {self.RULE})."


class MoashaScheduler(ParetoHalvingScheduler):
    """The console's name when syne-tune's MOASHA decides on the rung board (moasha.py)."""

    RULE = "moasha"


def scheduler(early_stopping: str) -> FIFOScheduler | None:
    """What Tune's console names for search.early_stopping (None: Tune's own FIFO, nothing stops)."""
    named = {"pareto_halving": ParetoHalvingScheduler, "moasha": MoashaScheduler}.get(early_stopping)
    return named() if named else None


class StudentSearch(OptunaSearch):
    """OptunaSearch that tells Optuna a student stopped at a rung as PRUNED, with a `stopped_early` user
    attribute, instead of COMPLETE with the truncated figures of a short run: the samplers (NSGA-II and
    multi-objective TPE) learn from completed trials only, so what they learn is what an architecture
    reaches when trained to the end. (Ray's class marks a trial PRUNED only when a result has no value.)

    Each Optuna trial carries its Tune trial id (user attribute `tune_trial_id`, set when it is sampled)
    and its MLflow run id (`mlflow_run_id`, set before it ends, when the run exists by then)."""

    def __init__(self, *args, links: StudyLinks | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.links = links or StudyLinks()

    def suggest(self, trial_id: str):
        """A configuration no earlier trial of this sweep was given: a sampled duplicate is told to Optuna
        as PRUNED (`duplicate_of` names the trial it repeats) and sampled again, up to RESAMPLES times (a
        space with fewer points than trials then repeats one)."""
        config = super().suggest(trial_id)
        for _ in range(RESAMPLES):
            trial = self._ot_trials.get(trial_id)
            twin = self._twin_of(trial)
            if twin is None:
                break
            trial.set_user_attr("duplicate_of", twin)
            self._ot_study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            del self._ot_trials[trial_id]
            config = super().suggest(trial_id)
        trial = self._ot_trials.get(trial_id)
        if trial is not None:
            trial.set_user_attr("tune_trial_id", trial_id)
            self.links.numbers[trial_id] = trial.number
        return config

    def _twin_of(self, trial) -> str | None:
        """The Tune trial id of an earlier trial with the same parameters as `trial`, if any."""
        if trial is None:
            return None
        for other_id, other in self._ot_trials.items():
            if other is not trial and other.params == trial.params:
                return other_id
        return None

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        """A trial whose Optuna trial already finished (it ended after the searcher's state was last saved,
        then the sweep was killed and resumed) is told nothing again: Optuna refuses to update it, and
        Ray's own tell logs and goes on the same way."""
        trial = self._ot_trials.get(trial_id)
        if trial is not None and trial_id in self.links.runs and trial_id not in self._completed_trials:
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                trial.set_user_attr("mlflow_run_id", self.links.runs[trial_id])
        if (
            result
            and result.get("stopped_early")
            and trial_id in self._ot_trials
            and trial_id not in self._completed_trials
        ):
            trial = self._ot_trials[trial_id]
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                trial.set_user_attr("stopped_early", True)
                self._ot_study.tell(trial, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True)
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result, error)


def study_storage(cfg: RunConfig, save_dir: Path) -> optuna.storages.RDBStorage:
    """The sqlite study beside the sweep, created with named objectives (optuna-dashboard shows the names)."""
    storage = optuna.storages.RDBStorage(f"sqlite:///{(save_dir / OPTUNA_DB).resolve()}")
    study = optuna.create_study(
        storage=storage,
        study_name=STUDY,
        load_if_exists=True,
        directions=["maximize" if o.mode == "max" else "minimize" for o in goals.of_search(cfg.search)],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # stable since 3.2, still flagged
        study.set_metric_names(objective_labels(cfg))
    return storage


def objective_labels(cfg: RunConfig) -> list[str]:
    """Readable names of the searched objectives, in the order Optuna holds them."""
    return [o.label for o in goals.of_search(cfg.search)]
