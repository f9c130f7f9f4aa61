"""Pareto front on validation over the configured objectives, hypervolume (golden values and against
Optuna's), pareto.json's shape, the named students."""

import json
import random

import pytest

from kdssm_tune import pareto
from kdssm_tune.hypervolume import hypervolume


def test_front_ranks():
    points = [(0.2, 0.5), (0.5, 0.2), (0.6, 0.6), (0.2, 0.9), (0.7, 0.7)]
    assert pareto.front_ranks(points) == [0, 0, 1, 1, 2]


def test_hypervolume_golden():
    # union of [0.2,1]x[0.5,1] (0.40) and [0.5,1]x[0.2,1] (0.40) minus their overlap [0.5,1]^2 (0.25)
    assert pareto.hypervolume([(0.2, 0.5), (0.5, 0.2)]) == pytest.approx(0.55)
    assert pareto.hypervolume([(0.2, 0.5), (0.5, 0.2), (0.6, 0.6)]) == pytest.approx(0.55)  # dominated: adds 0
    assert pareto.hypervolume([(0.0, 0.0)]) == pytest.approx(1.0)
    assert pareto.hypervolume([(1.2, 0.1)]) == 0.0  # worse than the reference: outside the box
    assert pareto.hypervolume([]) == 0.0
    # 3 objectives: two boxes 0.5 x 1 x 1 and 1 x 0.5 x 0.5 overlapping in 0.5 x 0.5 x 0.5
    assert pareto.hypervolume([(0.5, 0.0, 0.0), (0.0, 0.5, 0.5)]) == pytest.approx(0.5 + 0.25 - 0.125)
    assert hypervolume([(1.0, 2.0, 3.0)], (2.0, 4.0, 6.0)) == pytest.approx(1.0 * 2.0 * 3.0)


@pytest.mark.parametrize("dims", [2, 3])
def test_hypervolume_matches_optunas_on_random_fronts(dims):
    """Our exact slicing against Optuna's WFG (its private module, used here only as a reference)."""
    np = pytest.importorskip("numpy")
    wfg = pytest.importorskip("optuna._hypervolume")
    rng = random.Random(dims)
    for _ in range(30):
        points = [tuple(rng.uniform(0.0, 1.2) for _ in range(dims)) for _ in range(rng.randint(1, 25))]
        inside = [p for p in points if all(v < 1.0 for v in p)]
        ours = pareto.hypervolume(points)
        theirs = float(wfg.compute_hypervolume(np.asarray(inside), np.ones(dims))) if inside else 0.0
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def _metrics(acc, params, latency=0.1, val_acc=None, val_valid_db=-20.0):
    return {
        "accuracy": acc,
        "params": params,
        "latency_ms_per_column": latency,
        "latency_vs_filter": latency / 0.05,  # beside a filter at 0.05 ms per column
        "macs_per_column": params * 100,
        "retention": acc / 0.9,
        "nmse_valid_db": -20.0,
        "val_accuracy": acc if val_acc is None else val_acc,
        "val_nmse_valid_db": val_valid_db,
    }


def _reference(acc, params, latency):
    return {**_metrics(acc, params, latency), "validation": {"accuracy": acc, "nmse_valid_db": -25.0}}


def _trials(tmp_path, rows):
    return [
        {
            "trial_id": t,
            "config": {"model_dim": 4},
            "metrics": m,
            "checkpoint": str(tmp_path / "trials" / t / "model.ckpt"),
        }
        for t, m in rows
    ]


def test_build_and_write(tmp_path):
    teacher = _reference(0.9, 1000, latency=0.5)
    trials = _trials(tmp_path, [("a", _metrics(0.85, 400)), ("b", _metrics(0.80, 100)), ("c", _metrics(0.70, 500))])
    baseline = _reference(0.82, 0, latency=0.05)
    result = pareto.build(teacher, trials, tmp_path, baseline, pareto.objective_names())
    assert [f["trial_id"] for f in result["front"]] == ["b", "a"]  # sorted by size
    assert result["baseline"]["accuracy"] == 0.82 and result["baseline"]["params"] == 0
    assert [f["beats_baseline"] for f in result["front"]] == [False, True]  # 0.80 < 0.82 < 0.85
    assert result["front"][0]["checkpoint"] == "trials/b/model.ckpt"  # relative to pareto.json's folder
    assert [d["trial_id"] for d in result["dominated"]] == ["c"]
    assert result["objectives"] == ["accuracy", "params"] and result["selected_on"] == "validation"
    expected = pareto.hypervolume([(0.15, 0.4), (0.2, 0.1)])
    assert result["hypervolume"] == pytest.approx(expected) == result["hypervolume_test"]
    pareto.write(tmp_path, result, stopped=["c"])
    assert json.loads((tmp_path / "pareto.json").read_text())["front"][1]["trial_id"] == "a"
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    text = pareto.table(result)
    assert "teacher" in text and "5.00x" in text and "hypervolume" in text
    lines = text.splitlines()
    assert lines[2].startswith("matched filter") and "10.00x" in lines[2]  # 0.5 / 0.05 ms
    assert lines[3].startswith("b") and lines[3].endswith("no") and lines[4].endswith("yes")


def test_front_is_chosen_on_validation_not_test(tmp_path):
    """x is the better student on test, y on validation: only validation may choose."""
    teacher = _reference(0.9, 1000, latency=0.5)
    trials = _trials(tmp_path, [("x", _metrics(0.88, 300, val_acc=0.70)), ("y", _metrics(0.75, 300, val_acc=0.85))])
    result = pareto.build(teacher, trials, tmp_path, _reference(0.8, 0, 0.05), pareto.objective_names())
    assert [f["trial_id"] for f in result["front"]] == ["y"] and [d["trial_id"] for d in result["dominated"]] == ["x"]
    assert result["hypervolume"] == pytest.approx(0.85 * 0.7)  # (1 - 0.85) x (300 / 1000) from the unit box
    assert result["hypervolume_test"] == pytest.approx(0.75 * 0.7)  # the same front scored on test
    assert pareto.chosen(result)["best-accuracy"]["trial_id"] == "y"


def test_three_objectives_keep_a_faster_student(tmp_path):
    """With latency as an objective, a slower twin of equal size and accuracy leaves the front; a student
    worse in accuracy but faster joins it; the hypervolume is 3-D."""
    teacher = _reference(0.9, 1000, latency=1.0)
    rows = [
        ("a", _metrics(0.85, 400, latency=0.5)),
        ("slow", _metrics(0.85, 400, latency=0.8)),
        ("fast", _metrics(0.80, 400, latency=0.2)),
    ]
    two = pareto.build(teacher, _trials(tmp_path, rows), tmp_path, _reference(0.8, 0, 0.05), pareto.objective_names())
    three = pareto.build(
        teacher, _trials(tmp_path, rows), tmp_path, _reference(0.8, 0, 0.05), pareto.objective_names(latency=True)
    )
    assert {f["trial_id"] for f in two["front"]} == {"a", "slow"}  # equal in (accuracy, params)
    assert {f["trial_id"] for f in three["front"]} == {"a", "fast"}
    assert three["objectives"] == ["accuracy", "params", "latency"]
    assert set(three["reference_point"]) == {"accuracy", "params", "latency"}
    assert three["hypervolume"] == pytest.approx(pareto.hypervolume([(0.15, 0.4, 0.5), (0.2, 0.4, 0.2)]))


def test_macs_as_the_third_objective_scale_by_the_teachers(tmp_path):
    """search.cost_measure macs: the third objective is the MAC count over the teacher's, not a timing."""
    teacher = _reference(0.9, 1000, latency=1.0)
    rows = [("small", _metrics(0.85, 400, latency=0.9)), ("big", _metrics(0.85, 800, latency=0.1))]
    result = pareto.build(
        teacher,
        _trials(tmp_path, rows),
        tmp_path,
        _reference(0.8, 0, 0.05),
        pareto.objective_names(latency=True, cost="macs"),
    )
    assert result["objectives"] == ["accuracy", "params", "macs"]
    assert [f["trial_id"] for f in result["front"]] == ["small"]  # fewer MACs, however slow it timed
    assert result["hypervolume"] == pytest.approx(pareto.hypervolume([(0.15, 0.4, 0.4)]))


def test_nmse_valid_objective_is_a_unit_ratio(tmp_path):
    teacher = _reference(0.9, 1000, latency=1.0)
    trials = _trials(
        tmp_path, [("a", _metrics(0.85, 500, val_valid_db=-10.0)), ("b", _metrics(0.95, 500, val_valid_db=-3.0))]
    )
    result = pareto.build(teacher, trials, tmp_path, _reference(0.8, 0, 0.05), pareto.objective_names("nmse_valid_db"))
    assert [f["trial_id"] for f in result["front"]] == ["a"]  # -10 dB beats -3 dB although b is more accurate
    assert result["hypervolume"] == pytest.approx((1 - 0.1) * 0.5)
    assert set(pareto.chosen(result)) == {"best-nmse-valid", "smallest"}
    pareto.plot(tmp_path / "p.png", result)
    assert (tmp_path / "p.png").stat().st_size > 1000
