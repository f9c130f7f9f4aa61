"""SIGINT and SIGTERM as one kind of ending: `Interrupted`, exit status 128 + the signal, never success.

`catch_signals` (installed by the CLI) turns both signals into `Interrupted`, and remembers which came,
so a library that answers an interrupt with its own exit (Lightning's graceful shutdown calls
sys.exit(1)) is still reported as interrupted. Commands with a safe point of their own (focus between
batches, the sweep after Ray Tune's graceful stop) raise `Interrupted` there.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_received: list[int] = []  # the signals this process received, in order
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_catching: list[bool] = []  # non-empty while catch_signals holds the handlers


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; `kept` says what stays on disk and how to go on."""

    def __init__(self, signum: int = signal.SIGINT, kept: str = ""):
        super().__init__(kept)
        self.signum, self.kept = signum, kept

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _raise(signum, frame):
    _received.append(signum)
    raise Interrupted(signum)


@contextlib.contextmanager
def catch_signals():
    """Within: SIGINT and SIGTERM raise Interrupted in the main thread (and are remembered); the previous
    handlers come back on the way out."""
    _received.clear()
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = {sig: signal.signal(sig, _raise) for sig in _SIGNALS}
    _catching.append(True)
    try:
        yield
    finally:
        _catching.pop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def reclaim() -> None:
    """Put catch_signals' handlers back after a library replaced them: ray.init installs a C++ handler
    that answers SIGTERM with a stack dump and abort (exit -6), which would end a sweep or a distributed
    run without its `interrupted` line. Nothing happens outside catch_signals or off the main thread."""
    if _catching and threading.current_thread() is threading.main_thread():
        for sig in _SIGNALS:
            signal.signal(sig, _raise)


def note(signum: int) -> None:
    """Remember a signal a command's own handler caught."""
    _received.append(signum)


def received() -> int | None:
    """The first signal this process received since catch_signals, or None."""
    return _received[0] if _received else None


def describe(signum: int) -> str:
    return signal.Signals(signum).name
