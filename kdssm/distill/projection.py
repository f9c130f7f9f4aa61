"""Learnable projections of a student's features onto the teacher's feature width (any widths, down to 1).

complex (.., Hs) -> two real channels (.., 2 Hs) -> linear -> (.., 2 Ht) -> complex (.., Ht).
Odd widths need no special case: the real side is always twice the complex width.

The projection sits on the student's side (as in FitNets): the teacher's features are fixed
targets, so the feature loss, normalised by their power, cannot be lowered by a projection that
shrinks or tracks what it is compared with; only a student whose features carry the teacher's
information can lower it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models.complex import to_real


def to_complex(r: torch.Tensor) -> torch.Tensor:
    """(.., 2C) real -> (.., C) complex, inverse of to_real."""
    return torch.view_as_complex(r.unflatten(-1, (-1, 2)).contiguous())


class FeatureProjection(nn.Module):
    """Student features (B, L, Hs) complex -> (B, L, Ht) complex, compared with the teacher's.

    kinds: `linear` (random init), `pca_init` (the seed's name; here a least-squares start: the
    weights that best map the student's initial features onto the teacher's on training columns,
    set by `init_from_features`, then trained), `attention` (a learned softmax over the student's
    channels, from their mean magnitudes, reweights them before the linear map).
    """

    def __init__(self, student_width: int, teacher_width: int, kind: str = "linear"):
        super().__init__()
        if kind not in ("linear", "pca_init", "attention"):
            raise ValueError(f"unknown projection kind {kind!r}")
        self.kind = kind
        self.linear = nn.Linear(2 * student_width, 2 * teacher_width)
        if kind == "attention":
            self.score = nn.Sequential(
                nn.Linear(student_width, student_width), nn.Tanh(), nn.Linear(student_width, student_width)
            )
        self.initialised = kind != "pca_init"

    @torch.no_grad()
    def init_from_features(
        self, student_features: torch.Tensor, teacher_features: torch.Tensor, ridge: float = 1e-6
    ) -> float:
        """Ridge least squares from real student features (N, L, Hs) to teacher features (N, L, Ht).

        Returns the share of the teacher features' energy the fitted map explains.
        """
        x = to_real(student_features.flatten(0, 1)).double()  # (N*L, 2 Hs)
        y = to_real(teacher_features.flatten(0, 1)).double()  # (N*L, 2 Ht)
        x1 = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)  # with the bias
        gram = x1.T @ x1
        gram += ridge * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=x.dtype)
        w = torch.linalg.solve(gram, x1.T @ y)  # (2 Hs + 1, 2 Ht)
        self.linear.weight.copy_(w[:-1].T.float())
        self.linear.bias.copy_(w[-1].float())
        self.initialised = True
        residual = (y - x1 @ w).pow(2).sum()
        return float(1.0 - residual / y.pow(2).sum().clamp_min(1e-30))

    def forward(self, student: torch.Tensor) -> torch.Tensor:  # (B, L, Hs) complex64
        return to_complex(self.real_pairs(student))  # (B, L, Ht) complex64

    def real_pairs(self, student: torch.Tensor) -> torch.Tensor:
        """The projection as to_real gives it, (B, L, Hs) complex64 -> (B, L, 2 Ht) float32 [re, im, ...]:
        what the feature loss compares, without a round trip through complex tensors."""
        if self.kind == "attention":
            weights = torch.softmax(self.score(student.abs().mean(dim=1)), dim=-1)  # (B, Hs)
            student = student * (weights.unsqueeze(1) * weights.shape[-1])  # mean weight 1
        return self.linear(to_real(student))  # (B, L, 2 Ht) float32
