"""One writer per folder: a run folder in use is refused to a second process in one line naming the
holder; a holder killed without cleaning up leaves no stuck lock."""

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from kdssm.cli import main
from kdssm.train import folder_lock

from ..helpers import SMALL_SPLITS, TINY_TRAIN, flags
from .helpers import ROOT, kdssm

ARGS = [
    "train",
    *flags(**TINY_TRAIN, train_size=64, **SMALL_SPLITS, batch_size=32, num_epochs=40, max_minutes=0, quiet=True),
]


def top_files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_second_run_on_a_folder_in_use_is_refused_and_a_killed_holder_leaves_no_stuck_lock(tmp_path, capsys):
    run = tmp_path / "run"
    first = subprocess.Popen(
        kdssm(*ARGS, "--save_dir", str(run)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoints" / "last.ckpt").is_file() and first.poll() is None:
            assert time.monotonic() < deadline, "the first run never wrote a checkpoint"
            time.sleep(0.1)
        assert first.poll() is None, "the first run ended before the second could be tried"
        before = top_files(run)  # checkpoints/ and logs/ are the first run's, still being written
        assert main([*ARGS, "--save_dir", str(run), "--overwrite"]) == 2  # overwrite must not touch it either
        err = capsys.readouterr().err.strip()
        assert err.startswith("kdssm: error: ") and f"in use by pid {first.pid}" in err and "\n" not in err
        assert top_files(run) == before
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    assert (run / folder_lock.LOCK_FILE).is_file()  # left behind by the killed holder: stale
    assert main([*ARGS, "--save_dir", str(run)]) == 0  # the same command resumes the killed run
    assert (run / "summary.json").is_file() and not (run / folder_lock.LOCK_FILE).exists()


def _write_lock(folder, **fields):
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": None,
        "since": "then",
        "command": "kdssm train",
        **fields,
    }
    (folder / folder_lock.LOCK_FILE).write_text(json.dumps(record))


def test_lock_of_another_host_is_refused_with_the_file_to_delete(tmp_path):
    _write_lock(tmp_path, host="elsewhere-node-7", pid=12345)
    with pytest.raises(folder_lock.FolderInUse, match="on host elsewhere-node-7 .*delete .*kdssm.lock"):
        folder_lock.acquire(tmp_path)


def test_a_reused_pid_is_stale_and_a_live_holder_is_not(tmp_path):
    parent = os.getppid()  # alive, but started at another time than the lock says: the pid was reused
    _write_lock(tmp_path, pid=parent, started=folder_lock.process_started(parent) + 1.0)
    folder_lock.acquire(tmp_path)
    assert json.loads((tmp_path / folder_lock.LOCK_FILE).read_text())["pid"] == os.getpid()
    folder_lock.release(tmp_path)
    assert not (tmp_path / folder_lock.LOCK_FILE).exists()
    _write_lock(tmp_path, pid=parent, started=folder_lock.process_started(parent))
    with pytest.raises(folder_lock.FolderInUse, match=f"in use by pid {parent}"):
        folder_lock.acquire(tmp_path)


def test_reentrant_within_a_process(tmp_path):
    folder_lock.acquire(tmp_path)
    folder_lock.acquire(tmp_path)
    folder_lock.release(tmp_path)
    assert (tmp_path / folder_lock.LOCK_FILE).is_file()  # still held once
    folder_lock.release(tmp_path)
    assert not (tmp_path / folder_lock.LOCK_FILE).exists() and tmp_path.resolve() not in folder_lock.held()
