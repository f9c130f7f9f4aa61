"""Learnable projections of teacher features onto a student's feature width (any widths, down to 1).

complex (.., Ht) -> two real channels (.., 2 Ht) -> linear -> (.., 2 Hs) -> complex (.., Hs).
Odd widths need no special case: the real side is always twice the complex width.
"""
from __future__ import annotations

import torch
from torch import nn


def to_real(z: torch.Tensor) -> torch.Tensor:
    """(.., C) complex -> (.., 2C) real, [re_0, im_0, re_1, im_1, ...]."""
    return torch.view_as_real(z).flatten(-2)


def to_complex(r: torch.Tensor) -> torch.Tensor:
    """(.., 2C) real -> (.., C) complex, inverse of to_real."""
    return torch.view_as_complex(r.unflatten(-1, (-1, 2)).contiguous())


class FeatureProjection(nn.Module):
    """Teacher features (B, L, Ht) complex -> (B, L, Hs) complex.

    kinds: `linear` (random init), `pca_init` (weights set from the principal components of real
    teacher features by `init_from_features`, then trained), `attention` (channel attention: a
    learned softmax over teacher channels, from their mean magnitudes, reweights them before the
    linear map).
    """

    def __init__(self, teacher_width: int, student_width: int, kind: str = "linear"):
        super().__init__()
        if kind not in ("linear", "pca_init", "attention"):
            raise ValueError(f"unknown projection kind {kind!r}")
        self.kind = kind
        self.linear = nn.Linear(2 * teacher_width, 2 * student_width)
        if kind == "attention":
            self.score = nn.Sequential(nn.Linear(teacher_width, teacher_width), nn.Tanh(),
                                       nn.Linear(teacher_width, teacher_width))
        self.initialised = kind != "pca_init"

    @torch.no_grad()
    def init_from_features(self, teacher_features: torch.Tensor) -> float:
        """Set the weights to the top principal components of real teacher features (N, L, Ht).

        Returns the share of the features' variance the kept components explain.
        """
        x = to_real(teacher_features.flatten(0, 1)).double()  # (N*L, 2 Ht)
        mean = x.mean(dim=0)
        _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)  # vh (2 Ht, 2 Ht)
        k = self.linear.out_features
        comps = torch.zeros(k, x.shape[1], dtype=torch.float64)
        kept = min(k, vh.shape[0])
        comps[:kept] = vh[:kept]
        self.linear.weight.copy_(comps.float())
        self.linear.bias.copy_(-(comps @ mean).float())
        self.initialised = True
        energy = s.pow(2)
        return float(energy[:kept].sum() / energy.sum().clamp_min(1e-30))

    def forward(self, teacher: torch.Tensor) -> torch.Tensor:  # (B, L, Ht) complex64
        if self.kind == "attention":
            weights = torch.softmax(self.score(teacher.abs().mean(dim=1)), dim=-1)  # (B, Ht)
            teacher = teacher * (weights.unsqueeze(1) * weights.shape[-1])  # mean weight 1
        return to_complex(self.linear(to_real(teacher)))  # (B, L, Hs) complex64
