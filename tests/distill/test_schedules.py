import pytest

from kdssm.distill import schedules


def test_curriculum_phases():
    w = schedules.curriculum(0, 10, 0.8, 0.15, 0.05)
    assert (w.alpha, w.beta, w.gamma, w.phase) == (1.0, 0.0, 0.0, "student_only")
    w = schedules.curriculum(15, 10, 0.8, 0.15, 0.05)
    assert (w.alpha, w.beta, w.gamma) == pytest.approx((0.88, 0.09, 0.03)) and w.phase == "gradual_transition"
    w = schedules.curriculum(10, 10, 0.8, 0.15, 0.05)  # the ramp's first epoch already carries the teacher
    assert w.beta == pytest.approx(0.015) and w.phase == "gradual_transition"
    assert schedules.curriculum(19, 10, 0.8, 0.15, 0.05).phase == "full_distillation"
    assert schedules.curriculum(2, 2, 0.8, 0.15, 0.05).beta > 0  # the demo's grace rung sees distillation
    w = schedules.curriculum(25, 10, 0.8, 0.15, 0.05)
    assert (w.alpha, w.beta, w.gamma) == pytest.approx((0.8, 0.15, 0.05)) and w.phase == "full_distillation"
    assert schedules.curriculum(0, 0, 0.8, 0.15, 0.05).beta == 0.15


def test_strategic_layers_match_the_seeds():
    assert schedules.strategic_layers(6) == [1, 3, 4]
    assert schedules.strategic_layers(4) == [0, 2, 3]
    assert schedules.strategic_layers(3) == [0, 1, 2]
    assert schedules.strategic_layers(2) == [0, 1]
    assert schedules.strategic_layers(1) == [0]


def test_coupling_pairs_match_relative_depth_and_stages():
    pairs = schedules.coupling_pairs(6, 4)
    assert pairs == [(1, 0), (4, 2), (5, 3)]  # depths 1/4, 3/4, 1 of the student; 2/6, 5/6, 1 of the teacher
    assert schedules.coupling_pairs(3, 2) == [(1, 0), (2, 1)]  # the teacher's last layer is used
    assert schedules.coupling_pairs(3, 1) == [(2, 0)]
    assert schedules.coupling_pairs(6, 6) == [(1, 1), (3, 3), (4, 4), (5, 5)]  # the last layers meet
    assert schedules.coupling_pairs(6, 4, [2, 5]) == [(2, 1), (5, 3)]
    assert schedules.coupling_pairs(6, 4, None, [1]) == [(2, 1)]
    stages = schedules.coupling_stages(pairs)
    assert [len(s) for s in stages] == [1, 2, 3]
    assert schedules.coupling_pairs(6, 4, [1, 3, 5], [1, 2, 3]) == [(1, 1), (3, 2), (5, 3)]
    with pytest.raises(ValueError, match="pair one to one"):
        schedules.coupling_pairs(6, 4, [1, 3], [1])
    with pytest.raises(ValueError, match="layer 6 does not exist"):
        schedules.coupling_pairs(6, 4, [6], [1])


def test_stages_advance_every_stage_epochs():
    assert [schedules.stage_at(e, 5, 3) for e in (0, 4, 5, 9, 10, 99)] == [0, 0, 1, 1, 2, 2]


def test_dynamic_temperature_anneals_to_one():
    assert schedules.dynamic_temperature(0, 11, 4.0) == 4.0
    assert schedules.dynamic_temperature(5, 11, 4.0) == pytest.approx(2.5)
    assert schedules.dynamic_temperature(10, 11, 4.0) == pytest.approx(1.0)
