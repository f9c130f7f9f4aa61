"""Pareto successive halving: dominated students stop at a rung, small ones are not penalised for size;
the board survives a resume and a dead actor."""

import pytest

from kdssm_tune.early_stop import ask
from kdssm_tune.moasha import BOARDS, Moasha
from kdssm_tune.rungs import ParetoHalving, RungBoard, keep_best
from kdssm_tune.study import scheduler


def test_rungs():
    assert ParetoHalving(max_epochs=20, grace_epochs=2, reduction_factor=2).rungs == [2, 4, 8, 16]


def test_keep_best_prefers_the_front_not_the_most_accurate():
    points = {"big": (-0.95, 5000), "small": (-0.60, 100), "mid_dominated": (-0.55, 2000), "worst": (-0.5, 6000)}
    assert keep_best(points, 0.5) == {"big", "small"}


def test_small_students_survive_where_accuracy_alone_would_stop_them():
    board = ParetoHalving(max_epochs=8, grace_epochs=2, reduction_factor=2)
    assert board.decide("big", 1, (-0.95, 5000))  # before any rung: no decision
    assert board.decide("big", 2, (-0.95, 5000))  # first at the rung: passes
    assert board.decide("small", 2, (-0.40, 100))  # least accurate but smallest: on the front, goes on
    assert not board.decide("dominated", 2, (-0.30, 6000))  # worse and bigger than "big": stopped
    assert board.decide("mid", 2, (-0.90, 4000))  # between the two on the front
    assert board.stopped == ["dominated"] and board.was_stopped("dominated")
    assert board.decide("small", 3, (-0.5, 100))  # no new rung: the verdict of rung 2 stands
    assert not board.decide("dominated", 2, (-0.99, 1))  # a resumed trial gets its first verdict again


def test_a_later_rung_judges_against_that_rung_only():
    board = ParetoHalving(max_epochs=8, grace_epochs=2, reduction_factor=2)
    for name, point in (("a", (-0.9, 100)), ("b", (-0.8, 200)), ("c", (-0.7, 300))):
        board.decide(name, 4, point)
    assert board.recorded[4].keys() == {"a", "b", "c"} and board.recorded[2] == {}
    # b arrives second: dominated by a, and only ceil(2/2) = 1 of the two goes on; c: dominated by both
    assert board.stopped == ["b", "c"]


def test_board_is_kept_in_its_file_and_read_back(tmp_path):
    path = tmp_path / "rungs.json"
    board = ParetoHalving(max_epochs=8, grace_epochs=2, reduction_factor=2, path=str(path))
    board.decide("big", 2, (-0.95, 5000))
    assert not board.decide("dominated", 2, (-0.30, 6000))
    again = ParetoHalving(max_epochs=8, grace_epochs=2, reduction_factor=2, path=str(path))  # a resumed sweep
    assert again.stopped == ["dominated"] and again.recorded[2].keys() == {"big", "dominated"}
    assert not again.decide("dominated", 2, (-0.99, 1))  # the same verdict, not a second chance
    assert not again.decide("worse", 2, (-0.20, 7000))  # judged against the trials seen before the resume
    with pytest.raises(ValueError, match="rungs"):
        ParetoHalving(max_epochs=16, grace_epochs=2, reduction_factor=2, path=str(path))


def test_board_actor_restarts_with_its_verdicts(ray_local, tmp_path):
    board = RungBoard.remote(8, 2, 2, str(tmp_path / "rungs.json"))
    assert ray_local.get(board.decide.remote("big", 2, (-0.95, 5000)))
    assert not ray_local.get(board.decide.remote("dominated", 2, (-0.30, 6000)))
    ray_local.kill(board, no_restart=False)  # dies; Ray starts it again from the same file
    assert ray_local.get(board.was_stopped.remote("dominated"), timeout=60)
    assert not ray_local.get(board.decide.remote("worse", 2, (-0.20, 7000)), timeout=60)


def test_an_unreachable_board_lets_the_trial_go_on(ray_local):
    board = RungBoard.remote(8, 2, 2)
    ray_local.kill(board, no_restart=True)
    with pytest.warns(UserWarning, match="unreachable"):
        assert ask(board.decide.remote("a", 2, (0.0, 1.0)), True) is True


def test_the_board_loads_neither_torch_nor_lightning():
    """The board runs in an actor process of its own: with torch and Lightning it started with 3.3 s of
    imports beside the first trials' on 2 cores."""
    import subprocess
    import sys

    heavy = "{'torch', 'pytorch_lightning', 'lightning'}"
    code = f"import sys, tune.rungs; print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy}))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def test_moasha_decides_with_syne_tunes_own_scheduler():
    """The moasha board asks syne-tune's MOASHA at the same rungs; its verdicts are syne-tune's."""
    from syne_tune.backend.trial_status import Trial
    from syne_tune.optimizer.schedulers.multiobjective.moasha import MOASHA

    board = Moasha(max_epochs=8, grace_epochs=2, reduction_factor=2)
    assert board.rungs == [2, 4] and board.RULE == "moasha"
    reference = MOASHA({}, metrics=["q", "p"], time_attr="epoch", max_t=8, grace_period=2, reduction_factor=2)
    points = [(f"t{k}", ((-(k * 37 % 11) / 11), float(k * 53 % 17))) for k in range(12)]
    for trial_id, point in points:
        trial = Trial(trial_id=trial_id, config={}, creation_time=None)
        reference.on_trial_add(trial)
        expected = reference.on_trial_result(trial, {"epoch": 2, "q": point[0], "p": point[1]}) == "CONTINUE"
        assert board.decide(trial_id, 2, point) == expected, trial_id
        assert board.decide(trial_id, 3, point) == expected  # no new rung: the same verdict
    assert board.stopped == [t for t, _ in points if board.was_stopped(t)] and board.stopped


def test_moasha_board_is_kept_and_replayed(tmp_path):
    """A resumed sweep's MOASHA judges against the points seen before it, as one that never stopped."""
    path = tmp_path / "rungs.json"
    points = [(f"t{k}", (-(k * 37 % 11) / 11, float(k * 53 % 17))) for k in range(12)]
    straight = Moasha(max_epochs=8, grace_epochs=2, reduction_factor=2)
    kept = Moasha(max_epochs=8, grace_epochs=2, reduction_factor=2, path=str(path))
    for trial_id, point in points[:8]:
        assert kept.decide(trial_id, 2, point) == straight.decide(trial_id, 2, point)
    again = Moasha(max_epochs=8, grace_epochs=2, reduction_factor=2, path=str(path))  # resumed
    for trial_id, point in points[8:]:
        assert again.decide(trial_id, 2, point) == straight.decide(trial_id, 2, point), trial_id
    assert again.stopped == straight.stopped
    with pytest.raises(ValueError, match="kept by early stopping moasha"):
        ParetoHalving(max_epochs=8, grace_epochs=2, reduction_factor=2, path=str(path))


def test_the_scheduler_tune_shows_names_the_rule():
    assert scheduler("none") is None
    assert "moasha" in scheduler("moasha").debug_string()
    assert "pareto_halving" in scheduler("pareto_halving").debug_string()


def test_the_moasha_board_runs_as_an_actor(ray_local, tmp_path):
    board = BOARDS["moasha"].remote(8, 2, 2, str(tmp_path / "rungs.json"))
    assert ray_local.get(board.decide.remote("a", 2, (-0.9, 10.0)))
    assert '"rule": "moasha"' in (tmp_path / "rungs.json").read_text()
