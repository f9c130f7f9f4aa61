"""A local Ray started by kdssm listens on 127.0.0.1 only: during a 2-worker distillation (driver, GCS,
raylet, Ray Train workers, the workers' process group) no socket of the run listens on a wildcard or
routable address. The process group's rendezvous is a file here (kdssm/train/rendezvous.py): torch's TCP
store would listen on every interface."""

import os
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from kdssm.train.rendezvous import is_loopback

from ..faults.helpers import ROOT, kdssm, kill_session, train_worker_pids
from ..helpers import SMALL_SPLITS, TINY_STUDENT, flags


def listeners(session: int) -> list[tuple[str, int, str]]:
    """(address, port, process name) of every listening TCP socket of the processes in `session`."""
    found = []
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status != psutil.CONN_LISTEN or conn.pid is None:
            continue
        try:
            if os.getsid(conn.pid) == session:
                found.append((conn.laddr.ip, conn.laddr.port, psutil.Process(conn.pid).name()))
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    return found


@pytest.mark.slow
def test_a_local_two_worker_distillation_listens_on_loopback_only(tmp_path, teacher_run):
    cmd = kdssm(
        "distill",
        *flags(teacher_checkpoint=teacher_run, **TINY_STUDENT, num_epochs=3, train_size=512, **SMALL_SPLITS),
        *flags(batch_size=8, quiet=True, save_dir=tmp_path / "run", num_workers=2),
    )
    rendezvous_before = set(Path(tempfile.gettempdir()).glob("kdssm-rendezvous-*"))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        history = tmp_path / "run" / "history.jsonl"
        while not history.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # an epoch reported: the workers' process group (its TCP store, gloo) is up
        assert proc.poll() is None and len(train_worker_pids()) >= 2, "the run ended before it was looked at"
        sockets = listeners(proc.pid)
        names = {name for _, _, name in sockets}
        assert any("gcs" in n for n in names) and any("raylet" in n for n in names), sockets  # Ray's servers seen
        wide = [s for s in sockets if not is_loopback(s[0])]
        assert not wide, wide
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
        assert set(Path(tempfile.gettempdir()).glob("kdssm-rendezvous-*")) <= rendezvous_before  # removed at shutdown
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_session(proc.pid)
