"""The searcher's bookkeeping: no configuration trained twice, each Optuna trial linked to its Tune trial
and MLflow run, Tune's console naming our early stopping."""

import optuna
from optuna.distributions import CategoricalDistribution

from kdssm_tune.study import ParetoHalvingScheduler, StudentSearch, StudyLinks


def searcher(choices, links=None) -> StudentSearch:
    return StudentSearch(
        space={"model_dim": CategoricalDistribution(choices)},
        metric=["quality", "params"],
        mode=["max", "min"],
        sampler=optuna.samplers.RandomSampler(seed=0),
        links=links,
    )


def test_a_sampled_duplicate_is_resampled_not_trained_twice():
    search = searcher([2, 3, 4, 5, 6])
    configs = [search.suggest(f"t{i}")["model_dim"] for i in range(5)]
    assert sorted(configs) == [2, 3, 4, 5, 6]  # five trials, five points: none repeated
    trials = search._ot_study.get_trials(deepcopy=False)
    duplicates = [t for t in trials if "duplicate_of" in t.user_attrs]
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in duplicates)
    assert duplicates, "a random sampler over 5 points draws some twice in 5 tries"
    assert {t.user_attrs["tune_trial_id"] for t in trials if "tune_trial_id" in t.user_attrs} == {
        f"t{i}" for i in range(5)
    }


def test_a_space_smaller_than_the_sweep_repeats_after_its_tries():
    search = searcher([2, 3])
    configs = [search.suggest(f"t{i}")["model_dim"] for i in range(3)]
    assert sorted(configs[:2]) == [2, 3] and configs[2] in (2, 3)


def test_optuna_trials_carry_tune_ids_and_mlflow_runs():
    links = StudyLinks()
    search = searcher([2, 3, 4], links)
    search.suggest("a")
    number = links.numbers["a"]
    links.runs["a"] = "run-123"  # what the MLflow callback tells back once it made the run
    search.on_trial_complete("a", {"quality": 0.9, "params": 10.0})
    (trial,) = [t for t in search._ot_study.get_trials() if t.number == number]
    assert trial.user_attrs == {"tune_trial_id": "a", "mlflow_run_id": "run-123"}
    assert trial.state == optuna.trial.TrialState.COMPLETE


def test_a_trial_finished_before_a_resume_is_told_nothing_again():
    """Killed after Optuna stored a trial's end but before Tune saved the searcher: on the resume Tune
    reports the trial again (found in CI: UpdateFinishedTrialError ended the resumed sweep)."""
    for result in ({"quality": 0.9, "params": 10.0}, {"quality": 0.5, "params": 10.0, "stopped_early": True}):
        links = StudyLinks()
        search = searcher([2, 3, 4], links)
        search.suggest("a")
        trial = search._ot_trials["a"]
        search._ot_study.tell(trial, [0.8, 10.0])  # what the interrupted sweep had stored
        links.runs["a"] = "run-123"
        search.on_trial_complete("a", result)  # no error
        search.on_trial_complete("a", result, error=True)  # Tune stopping it again: no error either
        (stored,) = search._ot_study.get_trials()
        assert stored.state == optuna.trial.TrialState.COMPLETE and stored.values == [0.8, 10.0]
        assert "mlflow_run_id" not in stored.user_attrs


def test_tunes_console_names_our_early_stopping():
    scheduler = ParetoHalvingScheduler()
    assert type(scheduler).__name__ == "ParetoHalvingScheduler" and "pareto_halving" in scheduler.debug_string()
