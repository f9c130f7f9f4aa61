"""One Trainer builder for local and distributed runs.

Every run shares the same Lightning settings: epochs and the wall-clock budget, precision, gradient
clipping, early stopping on the run's selection metric, loaders, quiet start-up. The local runner
(runner.py) adds its device, best/last checkpoints and progress lines; a Ray Train worker
(distributed.py) adds DDP, Ray's environment and its report callback. Only those differences live there.
"""

from __future__ import annotations

import logging
import math
import warnings

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping
from torch.utils.data import DataLoader, DistributedSampler

from ..config import TrainConfig
from .module import selection


def quiet_lightning() -> None:
    """Keep Lightning's start-up chatter (tips, device lines) out of the user's terminal."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
    # Epoch-level metrics are already reduced across ranks by hand (all_gather of energies).
    warnings.filterwarnings("ignore", message=".*when logging on epoch level in distributed setting.*")
    warnings.filterwarnings("ignore", message=".*all_gather is deprecated.*")


def build_trainer(t: TrainConfig, steps_per_epoch: int, callbacks: list, **path: object) -> pl.Trainer:
    """A Trainer with the settings every run shares; `path` holds what the local or Ray path adds
    (accelerator, devices, strategy, logger, progress bar, ...). Early stopping comes first in the
    callbacks (Lightning runs checkpoint callbacks last whatever their place)."""
    metric, mode = selection(t)
    return pl.Trainer(
        max_epochs=t.num_epochs,
        max_time={"minutes": t.max_minutes} if t.max_minutes > 0 else None,
        precision=t.precision,
        gradient_clip_val=t.grad_clip if t.grad_clip > 0 else None,
        callbacks=[EarlyStopping(monitor=metric, mode=mode, patience=t.early_stopping_patience), *callbacks],
        enable_model_summary=False,
        log_every_n_steps=max(1, min(10, steps_per_epoch)),
        num_sanity_val_steps=0,
        **path,
    )


def loaders(t: TrainConfig, train_ds, val_ds, distributed: bool = False) -> tuple[DataLoader, DataLoader]:
    """Shuffled training batches; validation in batches of at least 64 columns.

    One order of columns whatever runs the fit: Lightning gives each Ray Train rank a DistributedSampler
    seeded with the run's seed (the shuffled loader is replaced); a run in this process (a local run, a
    sweep's in-trial student) gets the same sampler for one rank. A local run then takes the steps of a
    one-worker Ray Train run, so the two trial paths of a sweep train the same student alike; before,
    it drew its order from the global generator, after the model's initialisation had used it.
    """
    if distributed:
        train = DataLoader(train_ds, batch_size=t.batch_size, shuffle=True)
    else:
        order = DistributedSampler(train_ds, num_replicas=1, rank=0, shuffle=True, seed=t.seed)
        train = DataLoader(train_ds, batch_size=t.batch_size, sampler=order)  # Lightning sets its epoch
    return train, DataLoader(val_ds, batch_size=max(t.batch_size, 64))


def steps_per_epoch(t: TrainConfig, train_ds) -> int:
    return math.ceil(len(train_ds) / t.batch_size)
