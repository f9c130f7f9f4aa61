"""SIGKILL, SIGINT or SIGTERM `kdssm train` and `kdssm distill` mid-run; the same command resumes and finishes.
A signal the process can answer ends it with status 128 + the signal and one line, never as a finished run."""

import csv
import json
import signal
import subprocess

import pytest

from kdssm import load_model

from ..helpers import SMALL_SPLITS, TINY_STUDENT, TINY_TRAIN, flags
from .helpers import ROOT, kdssm, run_and_kill_when

ARGS = flags(**TINY_TRAIN, train_size=256, **SMALL_SPLITS, batch_size=16, quiet=True, max_minutes=0)


def epochs_logged(run) -> list[int]:
    """Validated epochs over every invocation's log (a resume writes a new version, never over one)."""
    epochs = []
    for log in sorted((run / "logs").glob("version_*/metrics.csv")):
        with open(log) as fh:
            epochs += [int(row["epoch"]) for row in csv.DictReader(fh) if row.get("val_nmse_db")]
    return sorted(epochs)


@pytest.mark.slow
@pytest.mark.parametrize(
    "command, sig",
    [("train", signal.SIGKILL), ("distill", signal.SIGKILL), ("train", signal.SIGINT), ("distill", signal.SIGTERM)],
)
def test_killed_run_resumes_with_every_epoch(tmp_path, teacher_run, command, sig):
    run = tmp_path / "run"
    if command == "train":
        cmd = kdssm("train", *ARGS, "--num_epochs", "4", "--save_dir", str(run))
    else:
        cmd = kdssm(
            "distill",
            *flags(teacher_checkpoint=teacher_run, **TINY_STUDENT, num_epochs=4, train_size=256, **SMALL_SPLITS),
            *flags(batch_size=16, quiet=True, save_dir=run),
        )
    last = run / "checkpoints" / "last.ckpt"
    seen = {}

    def after_second_epoch():
        # kill once the checkpoint of epoch 2 (index 1) is on disk
        if last.exists():
            stamp = last.stat().st_mtime_ns
            seen.setdefault(stamp, None)
            return len(seen) >= 2
        return False

    stderr = [] if sig != signal.SIGKILL else None
    code = run_and_kill_when(cmd, after_second_epoch, sig=sig, stderr=stderr)
    if sig == signal.SIGKILL:
        assert code < 0, "the run finished before it could be killed"
    else:
        lines = [line for line in stderr[0].splitlines() if line.startswith("kdssm:")]
        assert code == 128 + sig, stderr[0][-2000:]
        assert len(lines) == 1 and lines[0].startswith(f"kdssm: interrupted ({signal.Signals(sig).name}): "), lines
    assert not (run / "summary.json").exists() and not (run / "model.ckpt").exists()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["training"]["epochs"] == 4
    assert epochs_logged(run) == [0, 1, 2, 3]  # no epoch lost before the last checkpoint, none repeated
    load_model(run / "model.ckpt")


@pytest.mark.slow
def test_sigterm_to_a_distributed_run_is_an_interruption(tmp_path, teacher_run):
    """A scheduler's stop (SIGTERM to the whole process group: driver, local Ray, workers) of a 2-worker
    distillation: status 143 and one line, not Ray's stack dump and abort; the same command finishes."""
    run = tmp_path / "run"
    cmd = kdssm(
        "distill",
        *flags(teacher_checkpoint=teacher_run, **TINY_STUDENT, num_epochs=3, train_size=256, **SMALL_SPLITS),
        *flags(batch_size=16, quiet=True, save_dir=run, num_workers=2),
    )
    history = run / "history.jsonl"
    stderr = []
    code = run_and_kill_when(cmd, lambda: history.is_file(), sig=signal.SIGTERM, stderr=stderr)
    lines = [line for line in stderr[0].splitlines() if line.startswith("kdssm:")]
    assert code == 128 + signal.SIGTERM, stderr[0][-2000:]
    assert len(lines) == 1 and lines[0].startswith("kdssm: interrupted (SIGTERM): "), lines
    assert not (run / "summary.json").exists() and not (run / "model.ckpt").exists()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, start_new_session=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((run / "summary.json").read_text())["training"]["epochs"] == 3
