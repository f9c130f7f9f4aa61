import json

import pytest

import kdssm
import kdssm.data
from kdssm import metrics
from kdssm.cli import main, size_against_teacher
from kdssm.config import RunConfig
from kdssm.data import matched_filter
from kdssm.data.datasets import load_split
from kdssm.distill import teacher_cache

from ..helpers import CONTRACT_KEYS, cli

SMALL = ["--train_size", "64", "--val_size", "32", "--test_size", "32", "--batch_size", "16", "--quiet"]


@pytest.fixture(scope="module")
def student_run(teacher_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "tiny"
    code = main(
        [
            "distill",
            "--teacher_checkpoint",
            str(teacher_run),
            "--student_preset",
            "tiny",
            "--student_model_dim",
            "3",
            "--student_state_dim",
            "8",
            "--num_epochs",
            "2",
            "--curriculum_epochs",
            "1",
            "--progressive_coupling",
            "--stage_epochs",
            "1",
            "--enhanced_projections",
            "--temperature",
            "3",
            "--alpha",
            "0.7",
            "--beta",
            "0.2",
            "--teacher_layers",
            "0,2",
            "--student_layers",
            "0",
            "2",
            "--save_dir",
            str(out),
            *SMALL,
        ]
    )
    assert code == 0
    return out


def test_distill_writes_student_teacher_and_retention(student_run):
    summary = json.loads((student_run / "summary.json").read_text())
    assert set(summary) >= {*CONTRACT_KEYS, "retention"}
    expected = summary["accuracy"] / max(summary["teacher"]["accuracy"], 1e-12)  # the teacher is untrained
    assert summary["retention"] == pytest.approx(expected)
    assert summary["teacher"]["params"] > 0 and summary["teacher"]["nmse_db"] != summary["nmse_db"]
    assert summary["model"]["model_dim"] == 3 and summary["model"]["state_dim"] == 8
    assert not summary["model"]["use_selectivity"]
    cfg = RunConfig.from_file(student_run / "config.yaml")
    assert cfg.distillation.temperature == 3.0 and cfg.distillation.teacher_layers == [0, 2]
    assert cfg.distillation.student_layers == [0, 2] and cfg.distillation.progressive_coupling
    assert kdssm.load_model(student_run).config.num_layers == 3  # from the preset


def test_distill_logs_what_the_seeds_log(student_run):
    header = (student_run / "logs" / "version_0" / "metrics.csv").read_text().splitlines()[0].split(",")
    for key in (
        "train_total_loss",
        "train_student_loss",
        "train_distillation_loss",
        "train_feature_loss",
        "val_total_loss",
        "val_feature_loss",
        "curriculum/alpha",
        "curriculum/beta",
        "curriculum/gamma",
        "curriculum/phase",
        "progressive/stage",
        "progressive/num_couplings",
        "gradients/student/layer_0/norm",
        "gradients/student/total_norm",
    ):
        assert key in header, key


def test_teacher_targets_are_cached_once_per_split(student_run, teacher_run):
    files = sorted((student_run / "teacher_cache").glob("*.pt"))
    assert len(files) == 2  # train and val
    stamps = [f.stat().st_mtime_ns for f in files]
    teacher = kdssm.load_model(teacher_run)
    sha = teacher_cache.file_sha256(teacher_run / "model.ckpt")
    cfg = RunConfig.from_file(student_run / "config.yaml")
    train = load_split(cfg.data, "train")
    _, hit = teacher_cache.load_or_compute(
        student_run / "teacher_cache",
        teacher,
        sha,
        teacher_cache.split_identity(train.x, train.y),
        train.x,
        [0, 2],
        True,
    )
    assert hit and [f.stat().st_mtime_ns for f in files] == stamps


def test_compare_writes_table_json_csv_png(student_run, teacher_run, tmp_path, capsys):
    assert main(["compare", str(teacher_run), str(student_run), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "teacher" in out and "tiny" in out and "matched filter" in out
    data = json.loads((tmp_path / "comparison.json").read_text())
    names = [m["name"] for m in data["models"]]
    assert names == ["teacher", "tiny", "matched filter"]
    tiny, mf = data["models"][1], data["models"][2]
    test = load_split(RunConfig.from_file(teacher_run / "config.yaml").data, "test")
    assert mf["params"] == 0 and mf["latency_ms_b1"] > 0 and mf["param_reduction_pct"] == 100.0
    assert mf["accuracy"] == pytest.approx(metrics.accuracy(matched_filter(test.x, "mini"), test.y))
    assert tiny["param_reduction_pct"] > 0 and tiny["latency_ms_b1"] > 0 and tiny["peak_mem_mb"] is not None
    limit = data["limit"]  # the genie's, on every test column (mini: all fit its budget)
    assert limit["columns"] == len(test) and limit["nmse_db"] < mf["nmse_db"] - 10
    assert mf["from_limit_db"] == pytest.approx(mf["nmse_db"] - limit["nmse_db"])
    assert "limit (a genie knowing every target" in out and "matched filter" in out.splitlines()[-2]
    assert (tmp_path / "comparison.csv").read_text().startswith("name,model_dim")
    assert (tmp_path / "comparison.png").stat().st_size > 10_000


def _unlabelled_npz(tmp_path, with_y=False, bad=False):
    import numpy as np

    x, y = kdssm.data.simulate("mini", 8, 31)
    arrays = {"x": x.numpy().real if bad else x.numpy()}
    if with_y:
        arrays["y"] = y.numpy()
    path = tmp_path / "raw.npz"
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--alpha", "-1"], "distillation.alpha: must be >= 0"),
        (["--student_model_dim", "0"], "model.model_dim: must be >= 1, got 0"),
        (["--student_state_dim", "7"], "model.state_dim: must be even"),
        (["--teacher_layers", "9"], "teacher_layers: layer 9 does not exist"),
        (["--teacher_config", "configs/teacher.yaml"], "checkpoint has model.model_dim = 6, the config says 64"),
        (
            ["--unlabelled_size", "16", "--beta", "0", "--gamma", "0"],
            "data.unlabelled_size: unlabelled columns teach only through the teacher",
        ),
        (["--unlabelled_npz", "BAD"], "raw.npz: 'x' must be complex"),
        (["--unlabelled_size", "16", "--unlabelled_seed", "1"], "data.unlabelled_seed: must differ"),
    ],
)
def test_bad_distill_input_is_one_line_and_writes_nothing(teacher_run, tmp_path, capsys, args, message):
    args = [_unlabelled_npz(tmp_path, bad=True) if a == "BAD" else a for a in args]
    out = tmp_path / "student"
    assert cli(["distill", "--teacher_checkpoint", str(teacher_run), "--save_dir", str(out), *SMALL, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not out.exists()


def test_missing_teacher_is_named(tmp_path, capsys):
    assert main(["distill", "--teacher_checkpoint", str(tmp_path / "nope"), "--save_dir", str(tmp_path / "s")]) == 2
    assert "nope: checkpoint not found" in capsys.readouterr().err
    assert main(["distill", "--save_dir", str(tmp_path / "s")]) == 2
    assert "--teacher_checkpoint is required" in capsys.readouterr().err


def distill_one_epoch(teacher_run, out, *more: str) -> int:
    return main(
        [
            "distill",
            "--teacher_checkpoint",
            str(teacher_run),
            "--save_dir",
            str(out),
            *SMALL,
            "--num_epochs",
            "1",
            *more,
        ]
    )


@pytest.mark.parametrize("workers", [None, 2])
def test_distill_learns_from_unlabelled_columns(teacher_run, tmp_path, workers, ray_local):
    out = tmp_path / "student"
    extra = ["--num_workers", "2"] if workers else []
    assert distill_one_epoch(teacher_run, out, "--curriculum_epochs", "0", "--unlabelled_size", "48", *extra) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["training"]["epochs"] == 1
    assert len(list((out / "teacher_cache").glob("*.pt"))) == 3  # train, val and the unlabelled columns
    assert RunConfig.from_file(out / "config.yaml").data.unlabelled_size == 48


def test_unlabelled_npz_with_y_is_used_without_it(teacher_run, tmp_path, capsys):
    out = tmp_path / "student"
    npz = _unlabelled_npz(tmp_path, with_y=True)
    assert distill_one_epoch(teacher_run, out, "--unlabelled_npz", npz) == 0
    assert "raw.npz: holds 'y'; unlabelled columns are used without it" in capsys.readouterr().err


def test_train_refuses_unlabelled_columns(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                "configs/demo/student.yaml",
                *SMALL,
                "--set",
                "data.unlabelled_size=8",
                "--save_dir",
                str(out),
            ]
        )
        == 2
    )
    assert "only `kdssm distill` learns from unlabelled columns" in capsys.readouterr().err
    assert not out.exists()


def test_final_line_says_fewer_or_more_parameters():
    assert size_against_teacher(0.825) == "parameters 82.5 % fewer than the teacher's"
    assert size_against_teacher(-4.01) == "parameters 401.0 % more than the teacher's"  # was "--401.0 %"


@pytest.mark.parametrize("with_run_config", [True, False])
def test_a_teacher_of_another_geometry_names_both_in_one_line_within_seconds(tmp_path, capsys, with_run_config):
    """A mini teacher handed to an s1 student (its run folder's config.yaml, or a bare checkpoint): one line
    naming both geometries, before any of the 16,384 s1 columns is simulated; nothing written."""
    import time

    import torch

    from kdssm.checkpoint import save_model
    from kdssm.geometry import PRESETS
    from kdssm.models import SarSSM

    teacher = tmp_path / "mini-teacher"
    teacher.mkdir()
    torch.manual_seed(0)
    model = SarSSM(model_dim=4, state_dim=32, num_layers=2, geometry=PRESETS["mini"].geometry().to_dict())
    save_model(model, teacher / "model.ckpt", "teacher")
    if with_run_config:
        RunConfig.from_dict({"model": {"model_dim": 4, "state_dim": 32, "num_layers": 2}}).dump(teacher / "config.yaml")
    out = tmp_path / "student"
    started = time.perf_counter()
    args = ["--teacher_checkpoint", str(teacher), "--student_config", "configs/student.yaml", "--save_dir", str(out)]
    code = main(["distill", *args])
    assert code == 2 and time.perf_counter() - started < 20
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "mini" in err and "s1" in err and "PRF 600 Hz" in err and "PRF 1717 Hz" in err
    assert not out.exists()
