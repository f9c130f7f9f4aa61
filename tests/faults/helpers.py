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


def run_and_kill_when(cmd: list[str], ready, timeout: float = 240.0) -> int:
    """Start cmd, SIGKILL it as soon as ready() is true; returns its exit code (negative: the signal)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if ready():
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes under folder (to assert nothing was lost or changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
