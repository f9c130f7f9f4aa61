"""What one fit needs, split into the part every training process gets and the part only the driver keeps.

`FitPlan` is pickled once into Ray's object store for data-parallel workers, so it holds only
picklable things: the config, the datasets, the teacher (if any) and a module-level function that
builds the LightningModule. `RunPlan` adds the run folder and the test split, used by the driver
to resume and to score the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..config import RunConfig
from ..models import build_model, freeze_focusing_path


@dataclass
class FitPlan:
    cfg: RunConfig
    train_ds: Dataset  # x (N, L, 2), y (N, L, 1) complex64[, labelled (N,) bool, teacher outputs, features]
    val_ds: Dataset
    build: Callable[[FitPlan], object]  # -> LightningModule; a module-level function (picklable)
    teacher: torch.nn.Module | None = None
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (teacher layer, student layer) coupled
    with_features: bool = False  # teacher features cached in the datasets
    init_columns: torch.Tensor | None = None  # (N, L, 2) training columns the projections start on
    init_features: dict[int, torch.Tensor] = field(default_factory=dict)  # teacher features of those columns
    teacher_error: torch.Tensor | None = None  # (L,) the teacher's error profile on labelled training columns
    world_size: int = 1  # data-parallel ranks, each taking ceil(N / world_size) columns per epoch

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the whole run, which the warm-up and cosine schedule spans."""
        t = self.cfg.training
        return t.num_epochs * math.ceil(math.ceil(len(self.train_ds) / self.world_size) / t.batch_size)

    def module(self):
        return self.build(self)


@dataclass
class RunPlan:
    fit: FitPlan
    root: Path
    resuming: bool
    test: object  # datasets.Split of the test columns
    kind: str  # "teacher" or "student"
    reference: dict | None = None  # {"teacher", "matched_filter"}: their test scores, computed once by a sweep


def check_model(cfg: RunConfig) -> torch.nn.Module:
    """Build the model once before anything is written: an init that cannot be computed (an explicit
    matched-filter start of a model too small for the aperture) or a focusing path that cannot be kept
    (training.freeze_focus) is a one-line ConfigError here. The start is cached: the run's own build reuses it.
    Returns the model built, for further checks against it (a teacher start: distill/layer_init.py)."""
    model = build_model(cfg.model)
    if cfg.training.freeze_focus:
        freeze_focusing_path(model)
    return model
