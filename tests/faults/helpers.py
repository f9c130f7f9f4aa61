"""Helpers for fault tests: run the real CLI in a subprocess and kill it at a chosen moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def kdssm(*args: str) -> list[str]:
    return [sys.executable, "-m", "kdssm.cli", *args]


def run_and_kill_when(
    cmd: list[str],
    ready,
    timeout: float = 240.0,
    sessions: list | None = None,
    cwd: Path = ROOT,
    sig: int = signal.SIGKILL,
    stderr: list | None = None,
) -> int:
    """Start cmd, send its process group `sig` (SIGKILL; SIGINT is a terminal's Ctrl+C) as soon as ready()
    is true; returns its exit code (negative: killed by the signal).

    The command runs in a session of its own, whose id is appended to `sessions` when given; with
    `stderr` (a list), what it printed there is appended to it.
    """
    err = subprocess.PIPE if stderr is not None else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True, text=True)
    if sessions is not None:
        sessions.append(proc.pid)
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if ready():
                os.killpg(proc.pid, sig)
                break
            time.sleep(0.05)
        if stderr is not None:
            stderr.append(proc.communicate(timeout=120)[1])
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes under folder (to assert nothing was lost or changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def train_worker_pids() -> set[int]:
    """Processes of Ray Train workers (Ray titles them ray::RayTrainWorker...)."""
    import psutil

    found = set()
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["name"] or "")
        if "RayTrainWorker" in text:
            found.add(proc.info["pid"])
    return found


def kill_session(sid: int) -> None:
    """SIGKILL every process left in a session (a killed driver's local Ray), so no test leaves any behind."""
    import psutil

    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getsid(proc.info["pid"]) == sid:
                os.kill(proc.info["pid"], signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
