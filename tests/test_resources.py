"""Resource limits: estimates against measured peaks, refusals before anything is written, full disks."""

import contextlib
import os
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from kdssm.cli import main
from kdssm.config import ModelConfig
from kdssm.geometry import PRESETS
from kdssm.memory import peak_memory_mb
from kdssm.models import SarSSM, count_params
from kdssm.resources import model_memory, parameter_count

from .helpers import SMALL_SPLITS, TINY_TRAIN, flags

MINI = PRESETS["mini"].geometry().to_dict()
CONFIGS = {
    "demo teacher": dict(
        model_dim=16, state_dim=128, num_layers=3, use_selectivity=True, gate_layers="not_first", geometry=MINI
    ),
    "demo student": dict(
        model_dim=8, state_dim=64, num_layers=2, use_selectivity=True, gate_layers="last", gate_width=4, geometry=MINI
    ),
    "no geometry": dict(model_dim=32, state_dim=64, num_layers=3, use_selectivity=False),
    "fewer later modes": dict(
        model_dim=2, state_dim=64, later_state_dim=16, num_layers=3, use_selectivity=True, geometry=MINI
    ),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_parameter_count_without_building_the_model(name):
    for extra in ({}, {"norm": "layer", "activation": "modrelu", "bidirectional": False, "gate_layers": "all"}):
        kwargs = {**CONFIGS[name], **extra}
        assert parameter_count(ModelConfig.from_dict(kwargs)) == count_params(SarSSM(initialise=False, **kwargs))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, length, mode",
    [
        ("demo teacher", 256, "forward"),
        ("demo teacher", 256, "train"),
        ("demo student", 256, "train"),
        ("no geometry", 512, "forward"),
    ],
)
def test_estimate_is_within_30_percent_of_the_measured_peak(name, length, mode):
    estimate = model_memory(ModelConfig.from_dict(CONFIGS[name]), 32, length, mode)
    measured_mb = peak_memory_mb(length, "forward" if mode == "forward" else "train_step", 32, model=CONFIGS[name])
    steps_mb = (estimate.total - estimate.parameters - estimate.training_state) / 2**20  # the peak is a delta
    assert 0.7 <= steps_mb / measured_mb <= 1.3, (steps_mb, measured_mb)


def test_a_model_no_machine_holds_is_refused_before_anything_is_written(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                "configs/demo/teacher.yaml",
                "--model_dim",
                "100000",
                "--save_dir",
                str(run),
                "--quiet",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("kdssm: error: training needs about") and "is available" in err and err.count("\n") == 1
    assert "model.model_dim" in err and "training.batch_size" in err
    assert not run.exists()


def test_plan_prints_the_estimates_and_says_whether_it_fits(capsys):
    assert main(["plan", "configs/demo/teacher.yaml", "--train_size", "64", "--model_dim", "4"]) == 0
    out = capsys.readouterr().out
    assert "memory per process" in out and "(fits)" in out and "checkpoints (last, best)" in out
    assert "columns/s" in out  # the probe ran
    assert main(["plan", "configs/demo/teacher.yaml", "--model_dim", "100000", "--no_probe"]) == 2
    out = capsys.readouterr().out
    assert "does NOT fit" in out and "GB" in out


def _limited(limit_bytes: int):
    """A child's preexec: writes beyond limit_bytes fail with EFBIG (SIGXFSZ ignored, as a full disk fails)."""

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def test_a_full_disk_during_focus_keeps_the_previous_output_and_the_rerun_completes(tmp_path):
    from kdssm.data.scene import simulate_scene
    from tests.deploy.models import linear_student, saved

    scene = simulate_scene(PRESETS["mini"].geometry(), 600, 64, seed=3)
    np.savez(tmp_path / "scene.npz", raw=scene["raw"], slant_range_m=scene["slant_range_m"])
    student = saved(linear_student(), tmp_path / "student")
    out = tmp_path / "focused.npz"
    out.write_bytes(b"the previous output")
    cmd = [
        sys.executable,
        "-m",
        "kdssm.cli",
        "focus",
        student,
        "--input",
        str(tmp_path / "scene.npz"),
        "--output",
        str(out),
        "--overwrite",
        "--quiet",
    ]
    failed = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=_limited(100_000), timeout=300)
    assert failed.returncode == 2, failed.stderr
    assert failed.stderr.startswith("kdssm: error: file too large") and failed.stderr.count("\n") == 1
    assert "run the same command again" in failed.stderr
    assert out.read_bytes() == b"the previous output"  # nothing lost
    assert sorted(p.name for p in tmp_path.iterdir()) == ["focused.npz", "scene.npz", "student"]  # no temporaries
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0  # space freed: the same command
    assert np.load(out)["focused"].shape == (600, 64)


def test_a_full_disk_during_training_stops_in_one_line_and_the_same_command_resumes(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "kdssm.cli", "train"]
    cmd += flags(**TINY_TRAIN | {"state_dim": 16, "num_layers": 1}, train_size=64, **SMALL_SPLITS, num_epochs=2)
    cmd += flags(save_dir=run, quiet=True)
    failed = subprocess.run(
        cmd, capture_output=True, text=True, preexec_fn=_limited(6_000), timeout=300, cwd=os.getcwd()
    )
    assert failed.returncode == 2, failed.stderr[-2000:]
    assert "kdssm: error: file too large" in failed.stderr and failed.stderr.strip().count("\n") == 0
    assert not (run / "model.ckpt").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run / "model.ckpt").is_file() and (run / "summary.json").is_file()


def test_disk_checks_refuse_or_fall_back_in_one_line(tmp_path, capsys):
    from kdssm.resources import ResourceError, check_disk, free_disk, room_for

    free = free_disk(tmp_path / "not" / "yet")  # the nearest existing folder's disk
    assert free > 0
    assert room_for(tmp_path, 1024, "a small cache")
    assert not room_for(tmp_path, 2 * free, "the teacher cache (computed in memory instead)")
    err = capsys.readouterr().err
    assert err.startswith("kdssm: notice: the teacher cache (computed in memory instead): it needs about")
    assert err.count("\n") == 1
    with pytest.raises(ResourceError, match="needs about .* of disk for its checkpoints"):
        check_disk(tmp_path / "run", {"checkpoints": 2 * free}, "training")
    assert not (tmp_path / "run").exists()


def test_evaluate_refuses_more_columns_than_memory_holds(tmp_path, capsys):
    from tests.deploy.models import linear_student, saved

    run = saved(linear_student(), tmp_path / "student")
    assert main(["evaluate", run, "--num_columns", "100000000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kdssm: error: evaluate needs about") and "--num_columns" in err and err.count("\n") == 1


def test_evaluate_scores_the_scene_kind_asked_for(tmp_path, capsys):
    from tests.deploy.models import linear_student, saved

    run = saved(linear_student(), tmp_path / "student")
    rows = {}
    for kind in ("card", "clutter_only"):
        assert main(["evaluate", run, "--num_columns", "32", "--scene_kind", kind]) == 0
        line = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("matched filter"))
        rows[kind] = float(line.split()[4])  # the filter's valid-region nmse, dB
    assert rows["card"] < -30 and -16 < rows["clutter_only"] < -11  # clutter alone: only noise / clutter is left


def test_a_sweep_space_is_sized_by_its_largest_student():
    from kdssm.config import RunConfig
    from kdssm.resources import ResourceError
    from kdssm_tune import space
    from kdssm_tune.placement import check_trial_memory

    cfg = RunConfig.from_file("configs/demo/sweep.yaml")
    largest = space.largest(cfg, cfg.search)
    assert (largest.model.model_dim, largest.model.state_dim, largest.model.num_layers) == (16, 64, 3)
    assert largest.model.gate_width == 8 and largest.model.use_selectivity
    teacher = ModelConfig.from_dict(CONFIGS["demo teacher"])
    check_trial_memory(largest, teacher)  # the demo's space fits
    huge = cfg.with_overrides({"search": {"space": {**space.rules(cfg.search), "model_dim": {"choices": [4, 200000]}}}})
    with pytest.raises(ResourceError, match=r"search.space: its largest student \(200000/64/3"):
        check_trial_memory(space.largest(huge, huge.search), teacher)


def test_evaluate_scores_the_columns_of_the_models_geometry(tmp_path, capsys):
    """Without --preset an s1 model is scored on s1 columns; asking for mini columns names both geometries."""
    from kdssm.checkpoint import save_model
    from kdssm.models import SarSSM

    torch.manual_seed(0)
    s1 = SarSSM(model_dim=2, state_dim=256, num_layers=2, geometry=PRESETS["s1"].geometry().to_dict())
    save_model(s1, tmp_path / "model.ckpt", "teacher")
    assert main(["evaluate", str(tmp_path), "--num_columns", "8", "--preset", "mini"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "the s1 geometry (PRF 1717 Hz" in err and "the mini geometry (PRF 600 Hz" in err
    assert main(["evaluate", str(tmp_path), "--num_columns", "8"]) == 0
    out = capsys.readouterr().out
    model_row, filter_row = (line.split() for line in out.splitlines()[1:3])
    assert abs(float(model_row[2]) - float(filter_row[3])) < 0.1  # the untrained model is the s1 filter


def test_plan_sizes_gpu_workers_refuses_a_run_over_its_minutes_and_plans_a_sweeps_largest_trial(capsys):
    small = ["plan", "configs/demo/teacher.yaml", "--train_size", "64", "--model_dim", "4"]
    assert main(small) == 0
    out = capsys.readouterr().out
    assert "24 GB card: fits at batch 32" in out and "80 GB card: fits" in out and "min on this machine" in out
    assert main([*small, "--minutes", "1e-6"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kdssm: error: training needs about") and "--minutes" in err and "\n" not in err
    for bad in (["--minutes", "-5"], ["--minutes", "nan"], ["--minutes", "5", "--no_probe"]):
        with pytest.raises(SystemExit) if bad[-1] != "--no_probe" else contextlib.nullcontext():
            assert main([*small, *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("kdssm: error: ") and "--minutes" in err and "\n" not in err
    sweep = ["plan", "configs/demo/sweep.yaml", "--teacher_config", "configs/demo/teacher.yaml", "--no_probe"]
    assert main(sweep) == 0
    out = capsys.readouterr().out
    assert out.count("teacher cache (outputs)") == 2 and "search space's largest student: model 16/64/3" in out
