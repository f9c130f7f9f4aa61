"""Pareto front, hypervolume (golden values), pareto.json's shape."""
import json

import pytest

from tune import pareto


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


def _metrics(acc, params, latency=0.1):
    return {"accuracy": acc, "params": params, "latency_ms_per_column": latency, "retention": acc / 0.9,
            "nmse_valid_db": -20.0}


def test_build_and_write(tmp_path):
    teacher = _metrics(0.9, 1000, latency=0.5)
    trials = [{"trial_id": t, "config": {"model_dim": d}, "metrics": _metrics(a, p),
               "checkpoint": str(tmp_path / "trials" / t / "model.ckpt")}
              for t, d, a, p in (("a", 8, 0.85, 400), ("b", 4, 0.80, 100), ("c", 8, 0.70, 500))]
    baseline = _metrics(0.82, 0, latency=0.05)
    result = pareto.build(teacher, trials, tmp_path, baseline)
    assert [f["trial_id"] for f in result["front"]] == ["b", "a"]  # sorted by size
    assert result["baseline"]["accuracy"] == 0.82 and result["baseline"]["params"] == 0
    assert [f["beats_baseline"] for f in result["front"]] == [False, True]  # 0.80 < 0.82 < 0.85
    assert result["front"][0]["checkpoint"] == "trials/b/model.ckpt"  # relative to pareto.json's folder
    assert [d["trial_id"] for d in result["dominated"]] == ["c"]
    expected = pareto.hypervolume([(0.15, 0.4), (0.2, 0.1)])
    assert result["hypervolume"] == pytest.approx(expected)
    pareto.write(tmp_path, result, stopped=["c"])
    assert json.loads((tmp_path / "pareto.json").read_text())["front"][1]["trial_id"] == "a"
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    text = pareto.table(result)
    assert "teacher" in text and "5.00x" in text and "hypervolume" in text
    lines = text.splitlines()
    assert lines[2].startswith("matched filter") and "10.00x" in lines[2]  # 0.5 / 0.05 ms
    assert lines[3].startswith("b") and lines[3].endswith("no") and lines[4].endswith("yes")
