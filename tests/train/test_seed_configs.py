"""The cluster configs our users start from, run as they are on a few s1 columns on the CPU: one short epoch
of the seed-size teacher (configs/teacher.yaml, 64/540/6), the seed-size student (configs/student.yaml) and the
gated seed presets distilled from it, and the smoke test of configs/sweep.yaml end to end."""

import json

import pytest

import kdssm
from kdssm.cli import main

from ..helpers import CONTRACT_KEYS, flags, local_ray

FEW = flags(train_size=16, val_size=8, test_size=8, batch_size=4, num_epochs=1, quiet=True)


@pytest.fixture(scope="module")
def seed_teacher(tmp_path_factory):
    run = tmp_path_factory.mktemp("seed") / "teacher"
    assert main(["train", "--config", "configs/teacher.yaml", *FEW, "--save_dir", str(run)]) == 0
    return run


@pytest.mark.slow
def test_the_seed_teacher_config_trains_an_epoch(seed_teacher):
    summary = json.loads((seed_teacher / "summary.json").read_text())
    assert set(CONTRACT_KEYS) <= set(summary) and summary["params"] == 680_394
    assert summary["init"]["used"] == "matched_filter" and summary["training"]["epochs"] == 1
    # the focusing path is frozen: inside the columns the teacher is the matched filter it started as
    assert abs(summary["nmse_valid_db"] - summary["matched_filter"]["nmse_valid_db"]) < 0.3
    assert kdssm.load_model(seed_teacher).config.range_points_per_aperture == 6


@pytest.mark.slow
@pytest.mark.parametrize("preset", [None, "compressed_gated", "tiny_gated"])
def test_the_seed_student_config_and_gated_presets_distil_an_epoch(seed_teacher, tmp_path, preset):
    run = tmp_path / "student"
    sizes = ["--student_preset", preset] if preset else []  # None: configs/student.yaml's own 64/540/6
    args = ["--teacher_checkpoint", str(seed_teacher), "--student_config", "configs/student.yaml", *sizes]
    assert main(["distill", *args, *FEW, "--curriculum_epochs", "0", "--save_dir", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["retention"] > 0.9 and kdssm.load_model(run).config.use_selectivity


@pytest.mark.slow
def test_the_seed_sweep_config_smoke_test_runs_end_to_end(seed_teacher, tmp_path):
    local_ray()
    run = tmp_path / "sweep"
    args = ["--teacher_checkpoint", str(seed_teacher), "--config", "configs/sweep.yaml", "--smoke-test"]
    small = ["--batch_size", "4", "--tracking_uri", "", "--quiet"]  # the trial sized for the test's Ray node
    assert main(["sweep", *args, *small, "--save_dir", str(run)]) == 0
    front = json.loads((run / "pareto.json").read_text())["front"]
    assert front and all((run / entry["checkpoint"]).is_file() for entry in front)
