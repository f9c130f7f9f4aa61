"""Progress of a long focusing run: a redrawn line on a terminal, plain periodic lines in a log file
(a log must not fill with carriage returns)."""

from __future__ import annotations

import sys
import time


class Progress:
    """`update(done)` out of `total` units; quiet when `enabled` is False."""

    def __init__(self, total: int, unit: str, enabled: bool = True, every_s: float = 30.0):
        self.total, self.unit, self.enabled, self.every_s = total, unit, enabled, every_s
        self.terminal = sys.stdout.isatty()
        self.started = self.last = time.perf_counter()
        self.last_tenth = 0

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        line = f"[focus] {done}/{self.total} {self.unit} ({100 * done / self.total:.0f} %, {now - self.started:.0f} s)"
        if self.terminal:
            print(f"\r{line}", end="\n" if done >= self.total else "", flush=True)
            return
        tenth = int(10 * done / self.total)
        if done >= self.total or tenth > self.last_tenth or now - self.last >= self.every_s:
            print(line, flush=True)
            self.last, self.last_tenth = now, tenth
