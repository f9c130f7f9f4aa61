"""SIGKILL the driver of a 2-worker `kdssm distill` (and its local Ray); the same command resumes."""

import json
import subprocess

import pytest

from kdssm import load_model
from kdssm.train.history import read_history

from ..helpers import SMALL_SPLITS, TINY_STUDENT, flags
from .helpers import ROOT, kdssm, kill_session, run_and_kill_when

EPOCHS = 4


@pytest.mark.slow
def test_killed_driver_resumes_with_every_epoch(tmp_path, teacher_run):
    run = tmp_path / "run"
    cmd = kdssm(
        "distill",
        *flags(teacher_checkpoint=teacher_run, **TINY_STUDENT, num_epochs=EPOCHS, train_size=512, **SMALL_SPLITS),
        *flags(batch_size=8, max_minutes=0, quiet=True, save_dir=run, num_workers=2),
    )
    history = run / "history.jsonl"
    sessions = []
    code = run_and_kill_when(cmd, lambda: len(read_history(history)) >= 2, timeout=300, sessions=sessions)
    kill_session(sessions[0])
    assert code < 0, "the run finished before it could be killed"
    assert not (run / "summary.json").exists()
    before = [row["epoch"] for row in read_history(history)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, start_new_session=True)
    assert done.returncode == 0, done.stderr[-3000:]
    epochs = [row["epoch"] for row in read_history(history)]
    assert epochs[: len(before)] == before
    resumed = epochs[len(before) :]
    assert resumed and resumed[0] <= before[-1] + 1  # continued from the last checkpoint, not from epoch 0
    assert sorted(set(epochs)) == list(range(EPOCHS))
    assert resumed[0] >= 1
    summary = json.loads((run / "summary.json").read_text())
    assert summary["training"]["epochs"] == EPOCHS
    load_model(run / "model.ckpt")
