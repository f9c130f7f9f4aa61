"""benchmarks/distill_gain.py's protocol: the paired bootstrap (golden values), bad requests refused in one
line with nothing written, and a tiny real run of every arm."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kdssm.config import RunConfig

from .conftest import TINY_DATA

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stats = _load("distill_stats")


def arms(seed: int = 0, seeds: int = 3, columns: int = 40):
    rng = np.random.default_rng(seed)
    energy = rng.uniform(1.0, 100.0, columns)
    twin = rng.uniform(0.5, 1.5, (seeds, columns)) * energy * 0.1
    return twin, energy


def test_column_errors_sum_each_column():
    y = np.array([[[1 + 1j], [2 + 0j]], [[0 + 1j], [0 + 0j]]])
    err, energy = stats.column_errors(y + 1.0, y)
    np.testing.assert_allclose(err, [2.0, 2.0])
    np.testing.assert_allclose(energy, [6.0, 1.0])


def test_an_arm_against_itself_differs_by_nothing():
    twin, energy = arms()
    same = stats.paired_difference(twin, twin.copy(), energy, replicates=200)
    assert same["difference_db"] == 0.0 and same["interval_db"] == [0.0, 0.0]


def test_halving_every_error_is_minus_3_db_in_every_replicate():
    twin, energy = arms()
    half = stats.paired_difference(twin * 0.5, twin, energy, replicates=200)
    assert half["difference_db"] == pytest.approx(-3.0103, abs=1e-4)
    assert half["interval_db"] == pytest.approx([-3.0103, -3.0103], abs=1e-4)  # paired: no spread at all


def test_the_interval_carries_the_seed_spread():
    """One seed much worse than the others: the columns alone would give a narrow interval, the seeds widen it."""
    twin, energy = arms()
    distilled = twin * 0.5
    distilled[0] *= 4.0  # seed 0 of the distilled arm is worse than its twin
    diff = stats.paired_difference(distilled, twin, energy, replicates=500)
    low, high = diff["interval_db"]
    assert low < diff["difference_db"] < high and high - low > 1.0


def test_rho_golden_values():
    twin, energy = arms()
    full = twin * 0.5
    assert stats.gap_closed(twin, full, full, energy, 200)["rho"] == pytest.approx(1.0)
    assert stats.gap_closed(twin, twin, full, energy, 200)["rho"] == pytest.approx(0.0)
    between = twin * 10 ** (-0.15)  # -1.5 dB of the -3.01 dB gap
    r = stats.gap_closed(twin, between, full, energy, 200)
    assert r["rho"] == pytest.approx(1.5 / 3.0103, rel=1e-4) and r["undefined_share"] == 0.0
    assert stats.gap_closed(twin, between, twin, energy, 50)["rho"] is None  # no gap: rho is undefined
    with pytest.raises(ValueError, match="same seeds and columns"):
        stats.gap_closed(twin, between[:2], full, energy)


@pytest.fixture
def protocol(monkeypatch, tmp_path):
    module = _load("distill_gain")
    common = sys.modules["common"]
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    return module


@pytest.fixture
def student_yaml(tmp_path):
    cfg = RunConfig.from_dict(
        {
            "model": dict(model_dim=2, state_dim=8, num_layers=2, use_selectivity=True, gate_width=2, gate_hidden=4),
            "data": {**TINY_DATA, "train_size": 48, "test_size": 24},
            "training": {"batch_size": 16},
            "distillation": {"curriculum_epochs": 0, "gamma": 0.0},
        }
    )
    path = tmp_path / "student.yaml"
    cfg.dump(path)
    return str(path)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--labels", "64"], "--labels: 64 is outside 1..48"),
        (["--seeds", "0", "1", "0"], "--seeds: [0, 1, 0] repeats a seed"),
        (["--arms", "twin", "teacher_only"], "--arms: no arm named 'teacher_only'"),
        (["--temperatures", "2.5", "0"], "--temperatures: 0 is refused (distillation.temperature: must be > 0"),
        (["--arms", "twin", "teacher_start"], "--arms: teacher_start needs --init_layers"),
        (["--arms", "full_labels_start"], "--arms: full_labels_start needs --init_layers"),
        (["--init_layers", "0", "2"], "--init_layers: distillation.init_layers: the student's input_proj.weight"),
        (["--init_layers", "0", "1", "2"], "--init_layers: distillation.init_layers: [0, 1, 2] names 3 teacher"),
    ],
)
def test_bad_requests_are_one_line_and_write_nothing(
    protocol, student_yaml, teacher_run, tmp_path, capsys, flags, message
):
    code = protocol.main(["--teacher", str(teacher_run), "--student", student_yaml, "--labels", "8", *flags])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_every_arm_runs_and_is_scored_with_intervals(protocol, student_yaml, teacher_run, tmp_path):
    torch.manual_seed(0)
    flags = ["--labels", "8", "--seeds", "0", "1", "--unlabelled", "16", "--epochs", "1", "--converged_epochs", "2"]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking = ["--tracking_uri", uri, "--experiment", "protocol"]
    code = protocol.main(
        [
            "--teacher",
            str(teacher_run),
            "--student",
            student_yaml,
            *flags,
            "--bootstrap",
            "50",
            "--name",
            "tiny",
            *tracking,
        ]
    )
    assert code == 0
    record = json.loads((tmp_path / "results" / "tiny.json").read_text())
    assert record["complete"] and record["test_columns"] == 24
    row = record["rows"]["8"]
    assert set(row["nmse_db"]) == {"twin", "distilled_T2.5", "self_training", "full_labels", "full_converged"}
    assert all(len(v) == 2 for v in row["nmse_db_by_seed"].values())
    d = row["differences"]["distilled_T2.5_minus_twin"]
    assert d["interval_db"][0] <= d["difference_db"] <= d["interval_db"][1]
    assert row["optimiser_steps"] == 2 and row["twin_epochs"] == 2  # 24 columns in 2 batches, 8 in 1
    assert set(row["rho"]) == {"distilled_T2.5", "distilled_T2.5_of_converged", "distilled_T2.5_of_teacher"}
    share = row["rho"]["distilled_T2.5_of_teacher"]
    twin, distilled = row["nmse_db"]["twin"], row["nmse_db"]["distilled_T2.5"]
    assert share["rho"] == pytest.approx((twin - distilled) / (twin - record["teacher_nmse_db"]))

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("protocol")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([experiment.experiment_id])
    parent = [r for r in runs if r.data.tags["kdssm.role"] == "distill_protocol"]
    arms = {r.data.tags["kdssm.arm"]: r for r in runs if r.data.tags["kdssm.role"] == "distill_arm"}
    assert len(parent) == 1 and set(arms) == set(row["nmse_db"])
    assert all(r.data.tags["mlflow.parentRunId"] == parent[0].info.run_id for r in arms.values())
    assert arms["twin"].data.metrics["nmse_db"] == pytest.approx(row["nmse_db"]["twin"])
    assert arms["distilled_T2.5"].data.metrics["minus_twin_db"] == pytest.approx(d["difference_db"])
    artifacts = {a.path for a in client.list_artifacts(parent[0].info.run_id)}
    assert artifacts == {"tiny.json", "table.md"}


def test_an_unreachable_tracking_server_is_refused_before_anything_runs(
    protocol, student_yaml, teacher_run, tmp_path, capsys
):
    missing = f"sqlite:///{tmp_path / 'missing' / 'mlflow.db'}"
    code = protocol.main(
        ["--teacher", str(teacher_run), "--student", student_yaml, "--labels", "8", "--tracking_uri", missing]
    )
    assert code == 2 and "--tracking_uri" in capsys.readouterr().err and not (tmp_path / "results").exists()


def test_the_teacher_start_arms_run_from_the_teachers_layers(protocol, teacher_run, tmp_path):
    """--init_layers: the distilled arm and the teacher_start and full_labels_start controls start from the
    teacher's layers 0 and 2."""
    teacher = RunConfig.from_file(teacher_run / "config.yaml").model
    cfg = RunConfig.from_dict(
        {
            "model": teacher.replace(num_layers=2).to_dict(),
            "data": {**TINY_DATA, "train_size": 48, "test_size": 24},
            "training": {"batch_size": 16},
            "distillation": {"curriculum_epochs": 0},
        }
    )
    cfg.dump(tmp_path / "student.yaml")
    flags = ["--labels", "8", "--seeds", "0", "--unlabelled", "16", "--epochs", "1", "--init_layers", "0", "2"]
    argv = ["--teacher", str(teacher_run), "--student", str(tmp_path / "student.yaml"), *flags]
    arms = ["--arms", "twin", "distilled", "teacher_start", "full_labels_start"]
    kept = ["--runs", str(tmp_path / "kept")]
    assert protocol.main([*argv, *arms, *kept, "--bootstrap", "20", "--name", "t"]) == 0
    record = json.loads((tmp_path / "results" / "t.json").read_text())
    assert record["init_layers"] == [0, 2]
    row = record["rows"]["8"]
    assert set(row["nmse_db"]) == {"twin", "distilled_T2.5", "teacher_start", "full_labels_start"}
    assert {"teacher_start_minus_twin", "distilled_T2.5_minus_teacher_start"} <= set(row["differences"])
    assert {"full_labels_start_minus_twin", "distilled_T2.5_minus_full_labels_start"} <= set(row["differences"])
    assert {"full_labels_start_of_teacher", "distilled_T2.5_of_full_labels_start"} <= set(row["rho"])
    assert row["nmse_db"]["teacher_start"] != row["nmse_db"]["twin"]  # a different start, the same columns
    # every column truly labelled, the distilled arm's steps: neither the 8-label start nor the distilled arm
    scores = row["nmse_db"]
    assert scores["full_labels_start"] not in (scores["teacher_start"], scores["distilled_T2.5"])
    runs = sorted(p.name.split("-")[0] for p in (tmp_path / "kept").iterdir())
    assert runs == ["full_labels_start", "kd", "start", "twin"]


def test_kept_runs_are_reused_and_seeds_run_apart_are_summarised_together(
    protocol, student_yaml, teacher_run, tmp_path, capsys
):
    """--runs: seed 0 run alone, then seeds 0 and 1 in one call: seed 0's runs are scored again, not retrained,
    and scored the same; another recipe is another run beside them."""
    runs = tmp_path / "runs"
    flags = ["--labels", "8", "--unlabelled", "16", "--epochs", "1", "--arms", "twin", "distilled"]
    argv = ["--teacher", str(teacher_run), "--student", student_yaml, *flags, "--bootstrap", "20", "--runs", str(runs)]
    assert protocol.main([*argv, "--seeds", "0", "--name", "one"]) == 0

    def trained():
        return {p.name: (p / "model.ckpt").stat().st_mtime_ns for p in runs.iterdir()}

    first = trained()
    assert sorted(name.rsplit("-", 1)[0] for name in first) == ["kd-8-0-2.5", "twin-8-0"]
    assert protocol.main([*argv, "--seeds", "0", "1", "--name", "both"]) == 0
    after = trained()
    assert len(after) == 4 and all(after[name] == mtime for name, mtime in first.items())
    one, both = (json.loads((tmp_path / "results" / f"{n}.json").read_text())["rows"]["8"] for n in ("one", "both"))
    for arm in ("twin", "distilled_T2.5"):
        assert both["nmse_db_by_seed"][arm][0] == one["nmse_db_by_seed"][arm][0]
    assert protocol.main([*argv, "--seeds", "0", "--beta", "0.25", "--name", "other"]) == 0
    assert len(trained()) == 6  # the recipe is part of every run's config: none of the kept runs is taken for it

    twin = runs / next(n for n in first if n.startswith("twin-"))  # a kept run of other code is not taken as ours
    (twin / protocol.SOURCE_STAMP).write_text("0" * 64 + "\n")
    assert protocol.main([*argv, "--seeds", "0", "--name", "stale"]) == 2
    err = capsys.readouterr().err
    assert f"{twin}: was trained by other kdssm code than this" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results" / "stale.json").exists()


def test_runs_that_is_a_file_is_refused_in_one_line(protocol, student_yaml, teacher_run, tmp_path, capsys):
    argv = ["--teacher", str(teacher_run), "--student", student_yaml, "--labels", "8", "--runs", student_yaml]
    assert protocol.main(argv) == 2
    err = capsys.readouterr().err
    assert f"--runs: {student_yaml} exists and is not a directory" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()


def test_acceptance_judges_the_demanding_regime_and_its_share(protocol):
    share = {"rho": 0.64, "interval": [0.55, 0.71]}
    row = {"nmse_db": {"twin": -17.0, "distilled_T2.5": -20.2, "full_labels": -20.0}, "rho": {}, "differences": {}}
    row["rho"]["distilled_T2.5_of_teacher"] = share
    out = protocol.acceptance({"256": row}, 2.5, teacher_db=-22.0)
    assert out == {"closes_60_percent_of_the_teacher_gap_at_256": True, "teacher_2_db_above_full_labels_at_256": True}
    assert protocol.acceptance({"256": row}, 2.5, teacher_db=-21.9)["teacher_2_db_above_full_labels_at_256"] is False
    share["rho"] = 0.59
    assert (
        protocol.acceptance({"256": row}, 2.5, teacher_db=-22.0)["closes_60_percent_of_the_teacher_gap_at_256"] is False
    )
    row["rho"]["full_labels_start_of_teacher"] = {"rho": 0.58, "interval": [0.5, 0.66]}  # the bound, recorded beside
    out = protocol.acceptance({"256": row}, 2.5, teacher_db=-22.0)
    bound = "a_perfect_teacher_from_the_same_start_closes_60_percent_at_256"
    assert out[bound] is False
    row["rho"]["full_labels_start_of_teacher"]["rho"] = 0.6
    assert protocol.acceptance({"256": row}, 2.5, teacher_db=-22.0)[bound] is True
