"""Loss functions: pure, complex-aware, formula in each docstring."""
from __future__ import annotations

import torch


def complex_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean |pred - target|^2 over all elements (complex or real)."""
    return (pred - target).abs().pow(2).mean()


def normalised_mse(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """sum |pred - target|^2 / sum |target|^2: the complex MSE divided by the batch's target power.

    Same gradient direction as complex_mse within a batch; its scale does not depend on how bright
    the batch's point targets are, which keeps step sizes steady.
    """
    return (pred - target).abs().pow(2).sum() / target.abs().pow(2).sum().clamp_min(eps)


def masked_normalised_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                          eps: float = 1e-12) -> torch.Tensor:
    """sum_mask |pred - target|^2 / sum_mask |target|^2, mask broadcastable to pred (1 keeps a sample)."""
    mask = mask.to(pred.real.dtype)
    err = ((pred - target).abs().pow(2) * mask).sum()
    return err / ((target.abs().pow(2) * mask).sum().clamp_min(eps))


GROUND_TRUTH_LOSSES = {"mse": complex_mse, "nmse": normalised_mse}
