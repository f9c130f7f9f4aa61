"""The Optuna side of a sweep: the sampler, the sqlite study with named objectives, and the searcher that
tells Optuna which trials were stopped early."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from ray.tune.search.optuna import OptunaSearch

from kdssm.config import RunConfig

from . import objectives as goals
from .trial import objectives

OPTUNA_DB, STUDY = "optuna.db", "kdssm"


def sampler(cfg: RunConfig) -> optuna.samplers.BaseSampler:
    s = cfg.search
    if s.sampler == "nsga2":  # population: half the trials, so that a small sweep still breeds a generation
        return optuna.samplers.NSGAIISampler(population_size=max(2, min(50, s.num_samples // 2)), seed=s.search_seed)
    if s.sampler == "tpe":
        return optuna.samplers.TPESampler(
            n_startup_trials=max(2, min(10, s.num_samples // 2)), multivariate=True, seed=s.search_seed
        )
    return optuna.samplers.RandomSampler(seed=s.search_seed)


class StudentSearch(OptunaSearch):
    """OptunaSearch that tells Optuna a student stopped at a rung as PRUNED, with a `stopped_early` user
    attribute, instead of COMPLETE with the truncated figures of a short run: the samplers (NSGA-II and
    multi-objective TPE) learn from completed trials only, so what they learn is what an architecture
    reaches when trained to the end. (Ray's class marks a trial PRUNED only when a result has no value.)"""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        if (
            result
            and result.get("stopped_early")
            and trial_id in self._ot_trials
            and trial_id not in self._completed_trials
        ):
            trial = self._ot_trials[trial_id]
            trial.set_user_attr("stopped_early", True)
            self._ot_study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result, error)


def study_storage(cfg: RunConfig, save_dir: Path) -> optuna.storages.RDBStorage:
    """The sqlite study beside the sweep, created with named objectives (optuna-dashboard shows the names)."""
    storage = optuna.storages.RDBStorage(f"sqlite:///{(save_dir / OPTUNA_DB).resolve()}")
    goals = objectives(cfg)
    study = optuna.create_study(
        storage=storage,
        study_name=STUDY,
        load_if_exists=True,
        directions=["maximize" if m == "max" else "minimize" for _, m in goals],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # stable since 3.2, still flagged
        study.set_metric_names(objective_labels(cfg))
    return storage


def objective_labels(cfg: RunConfig) -> list[str]:
    """Readable names of the searched objectives, in the order Optuna holds them."""
    return [o.label for o in goals.of_search(cfg.search)]
