"""The teacher's targets placed once in Ray's object store and read by every trial without a copy.

Ray copies torch tensors when a process gets them from the object store, but hands NumPy arrays out
as read-only views of its shared memory (zero-copy). So the sweep driver stores the columns, the
teacher's outputs and its features as NumPy arrays (`to_numpy`), the trials turn them back into
tensors sharing that memory (`to_torch`, torch.from_numpy): on one node, each trial reads the same
226 MB (the demo teacher's three layers over 2304 columns) instead of receiving its own copy.
Training only reads them (TensorDataset indexing), so the read-only views are safe.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from kdssm.data.datasets import Split
from kdssm.distill.teacher_cache import TeacherTargets

SPLITS = {"train", "val", "unlabelled"}


def to_numpy(targets: dict) -> dict:
    """distill.runner.compute_targets' dict with every tensor as a NumPy array."""
    out = {"with_features": targets["with_features"]}
    for which in SPLITS & targets.keys():
        split, t = targets[which]
        out[which] = (
            Split(split.x.numpy(), None if split.y is None else split.y.numpy()),
            TeacherTargets(t.outputs.numpy(), {i: f.numpy() for i, f in t.features.items()}),
        )
    return out


def to_torch(targets: dict) -> dict:
    """The inverse of to_numpy, sharing memory with the arrays (no copy)."""

    def tensor(a: np.ndarray | None) -> torch.Tensor | None:
        if a is None:
            return None
        with warnings.catch_warnings():  # read-only shared memory: training never writes to it
            warnings.filterwarnings("ignore", message=".*not writable.*")
            return torch.from_numpy(a)

    out = {"with_features": targets["with_features"]}
    for which in SPLITS & targets.keys():
        split, t = targets[which]
        out[which] = (
            Split(tensor(split.x), tensor(split.y)),
            TeacherTargets(tensor(t.outputs), {i: tensor(f) for i, f in t.features.items()}),
        )
    return out
