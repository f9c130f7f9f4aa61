"""Per-epoch metrics of a Ray Train run, appended to history.jsonl in the run folder as they arrive.

A Ray Train UserCallback runs in the Train controller, which Ray places on the driver's node, so
the file is written where the user reads it, even when the workers run on other nodes. Epochs run
again after a restart appear again, with the attempt that ran them, so a resume is visible.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ray.train.v2.api.callback import UserCallback

KEPT = (
    "epoch",
    "step",
    "train_loss",
    "val_loss",
    "val_nmse_db",
    "val_nmse_valid_db",
    "val_accuracy",
    "val_objective_db",
    "train_total_loss",
    "val_total_loss",
)


def append_row(path: str | Path, metrics: dict, epoch: int, **extra) -> dict:
    """One epoch's KEPT metrics (floats), its number, the time and extra fields, appended to history.jsonl."""
    row = {k: float(metrics[k]) for k in KEPT if k in metrics and k != "epoch"}
    row.update(epoch=int(epoch), time=time.time(), **extra)
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")
    return row


class EpochHistory(UserCallback):
    """history.jsonl rows as epochs are reported, an echo line per epoch, and one line per lost worker
    group saying what was lost and from which epoch the group restarts (always printed)."""

    def __init__(self, path: str, total_epochs: int, echo: bool = True, max_failures: int = 0):
        self.path = path
        self.total_epochs = total_epochs
        self.echo = echo
        self.max_failures = max_failures
        self.failures = 0
        self.started = time.time()

    def after_exception(self, run_context, worker_exceptions: dict) -> None:
        self.failures += 1
        ranks = ", ".join(str(rank) for rank in sorted(worker_exceptions))
        kinds = ", ".join(sorted({type(err).__name__ for err in worker_exceptions.values()}))
        rows = read_history(Path(self.path))
        done = max(row["epoch"] for row in rows) + 1 if rows else 0
        if self.failures > self.max_failures:
            print(f"[kdssm] worker rank {ranks} failed ({kinds}); no restart left (--max_failures {self.max_failures})")
            return
        start = f"the checkpoint of epoch {done}" if done else "the start"
        print(
            f"[kdssm] worker rank {ranks} lost ({kinds}); the worker group restarts from {start} "
            f"(restart {self.failures} of {self.max_failures})",
            flush=True,
        )

    def after_report(self, run_context, metrics: list[dict], checkpoint) -> None:
        reported = metrics[0]  # rank 0; validation metrics are already reduced across ranks
        row = append_row(
            self.path, reported, reported.get("epoch", -1), checkpoint=checkpoint.path if checkpoint else None
        )
        if self.echo:
            print(
                f"[kdssm] epoch {row['epoch'] + 1}/{self.total_epochs}: "
                f"val nmse {row.get('val_nmse_db', float('nan')):.2f} dB "
                f"(valid {row.get('val_nmse_valid_db', float('nan')):.2f}), "
                f"val accuracy {row.get('val_accuracy', float('nan')):.4f} "
                f"({time.time() - self.started:.0f} s)",
                flush=True,
            )


def read_history(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
