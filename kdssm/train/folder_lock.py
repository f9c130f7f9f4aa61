"""One writer per folder: a run, distillation or sweep folder in use is refused to a second process.

Two `kdssm train` runs on one --save_dir used to both run to the end, both writing model.ckpt and
summary.json. Now the first process to prepare a folder holds `.kdssm.lock` in it until its run ends:

    {"pid": ..., "host": ..., "started": <the process's start time>, "since": ..., "command": ...}

created with O_EXCL, so exactly one process wins. A holder killed without cleaning up cannot leave the
folder stuck: on the holder's own host a lock whose pid is gone, or belongs to a process started at
another time (a reused pid), is stale and taken over. A lock from another host cannot be checked
from here; it is refused with the holder named and the file to delete once that host's run is known
to be gone. The lock is re-entrant within a process (a sweep driver resumes, a trial restarts) and
released when the run ends or the process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK_FILE = ".kdssm.lock"
_held: dict[Path, int] = {}  # folder -> how many times this process acquired it


class FolderInUse(ValueError):
    """The folder is held by another live process; one line naming the holder."""


def process_started(pid: int) -> float | None:
    """The start time of pid (clock ticks since boot, from /proc), or None where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return float(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after the command name


def alive(pid: int, started: float | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    now = process_started(pid)
    return started is None or now is None or now == started


def _record() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": process_started(os.getpid()),
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv)[:300],
    }


def _create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        json.dump(_record(), fh)
    return True


def _holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # being written by its creator this instant, or unreadable: treated as held


def acquire(folder: Path) -> None:
    """Hold folder (which must exist) for this process, or raise FolderInUse naming the holder."""
    folder = Path(folder).resolve()
    if folder in _held:
        _held[folder] += 1
        return
    path = folder / LOCK_FILE
    for _ in range(3):
        if _create(path):
            _held[folder] = 1
            return
        holder = _holder(path)
        if holder is None:
            continue  # released between our attempt and the read
        if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
            if holder["pid"] == os.getpid() or not alive(holder["pid"], holder.get("started")):
                path.unlink(missing_ok=True)  # ours from before a fork, or left by a killed process: stale
                continue
            raise FolderInUse(
                f"{folder}: in use by pid {holder['pid']} since {holder.get('since')} "
                f"({holder.get('command') or 'kdssm'}); wait for it to end or stop it"
            )
        if holder:
            raise FolderInUse(
                f"{folder}: in use by pid {holder.get('pid')} on host {holder.get('host')} since "
                f"{holder.get('since')}; if that run is gone, delete {path}"
            )
        time.sleep(0.1)
    raise FolderInUse(f"{folder}: its lock {path} could not be taken; delete it if no run uses the folder")


def release(folder: Path) -> None:
    """Undo one acquire; the file goes with the last one (only if it is still this process's)."""
    folder = Path(folder).resolve()
    if folder not in _held:
        return
    _held[folder] -= 1
    if _held[folder] > 0:
        return
    del _held[folder]
    path = folder / LOCK_FILE
    holder = _holder(path)
    if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def released_on_error(folder: Path):
    """Keep an acquired folder while the block succeeds; release it if the block raises (the run that
    would have released it will not start)."""
    try:
        yield
    except BaseException:
        release(folder)
        raise


def held() -> list[Path]:
    return list(_held)


@atexit.register
def _release_all() -> None:
    for folder in list(_held):
        _held[folder] = 1
        release(folder)
