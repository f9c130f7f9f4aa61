"""Progress a user can read wherever the output goes.

On a terminal Lightning's progress bar redraws one line in place. Written to a file (`kdssm demo >
log`) the same bar leaves every redraw behind as carriage returns (a demo log grew to 760 KB), so
off a terminal a run prints one plain line per epoch instead.
"""

from __future__ import annotations

import sys
import time

import pytorch_lightning as pl


def on_terminal() -> bool:
    return sys.stdout.isatty()


class EpochLines(pl.Callback):
    """One line per validated epoch: the epoch, the validation figures and the time so far."""

    def __init__(self, total_epochs: int):
        self.total_epochs = total_epochs
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        # after the epoch's validation, whose figures the module has logged by now (a callback's
        # on_validation_epoch_end runs before the module's and would print the previous epoch's)
        if not trainer.is_global_zero:
            return
        m = trainer.callback_metrics

        def value(key: str) -> str:
            return f"{float(m[key]):.2f}" if key in m else "-"

        print(
            f"[kdssm] epoch {trainer.current_epoch + 1}/{self.total_epochs}: val nmse {value('val_nmse_db')} dB "
            f"(valid {value('val_nmse_valid_db')}), objective {value('val_objective_db')} dB "
            f"({time.perf_counter() - self.started:.0f} s)",
            flush=True,
        )


def progress_callbacks(progress: bool, total_epochs: int) -> tuple[bool, list[pl.Callback]]:
    """(Lightning's progress bar on?, extra callbacks) for a run that should show its progress or not."""
    if not progress:
        return False, []
    if on_terminal():
        return True, []
    return False, [EpochLines(total_epochs)]
