"""Pareto successive halving: dominated students stop at a rung, small ones are not penalised for size."""
from tune.early_stop import ParetoHalving, keep_best


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
