"""Run folders: a finished run is never overwritten without --overwrite; unusable folders are named."""

import pytest

from kdssm.cli import main

from ..helpers import SMALL_SPLITS, TINY_TRAIN, flags
from .helpers import snapshot

ARGS = ["train", *flags(**TINY_TRAIN, train_size=64, **SMALL_SPLITS, batch_size=32, num_epochs=1, quiet=True)]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main([*ARGS, "--save_dir", str(run)]) == 0
    return run


@pytest.mark.parametrize("extra", [[], ["--num_epochs", "2"]])
def test_finished_run_is_not_overwritten(finished, capsys, extra):
    before = snapshot(finished)
    assert main([*ARGS, *extra, "--save_dir", str(finished)]) == 2
    assert "holds a finished run; pass --overwrite" in capsys.readouterr().err
    assert snapshot(finished) == before


def test_overwrite_replaces_a_finished_run(tmp_path):
    run = tmp_path / "run"
    assert main([*ARGS, "--save_dir", str(run)]) == 0
    assert main([*ARGS, "--seed", "5", "--save_dir", str(run), "--overwrite"]) == 0
    assert "seed: 5" in (run / "config.yaml").read_text()


def test_save_dir_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep me")
    assert main([*ARGS, "--save_dir", str(target)]) == 2
    assert "save_dir exists and is not a directory" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_save_dir_that_cannot_be_created(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main([*ARGS, "--save_dir", str(blocker / "run")]) == 2
    assert "save_dir is not writable" in capsys.readouterr().err
