"""Slant-range grids on which range-conditioned S4D kernels are built, and how a column finds its two.

A column's kernel depends on its slant range; kernels are built (and, for inference, cached) on a
grid of positional encodings p_g and each column reads the two grid kernels around its own p by a
gather, weighted linearly. Inference cost therefore does not grow with the grid.

Two grids:
- `ApertureGrid` (the geometry is known): the data card's aperture length Na(R0) is a step function
  of range, and a kernel that spans the aperture cannot be interpolated across a step. The grid is
  keyed by aperture length: every Na bucket (the interval of p where Na is constant) gets its own
  points, both ends included, and a column interpolates only between two points of its own
  bucket, whose kernels share its aperture window. Step sizes follow the physics: the chirp rate
  Ka ~ 1/R0, so dt(R0) = dt0 (R0 / R_mid)^slope with slope -1/2 maps one continuous chirp onto
  every range; rho = log(R0 / R_mid) is the conditioning variable.
- `UniformGrid` (no geometry): `points` equally spaced p, rho = p - 1/2, no window; what the seed
  configs did, and the fallback for columns of unknown geometry.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..geometry import Geometry


class UniformGrid:
    """`points` equally spaced positional encodings; no aperture window."""

    def __init__(self, points: int):
        if points < 1:
            raise ValueError(f"a range grid needs at least one point, got {points}")
        self.p = np.linspace(0.0, 1.0, points) if points > 1 else np.array([0.5])  # (G,)
        self.rho = self.p - 0.5  # (G,)
        self.half_aperture = None  # no window

    def __len__(self) -> int:
        return len(self.p)

    def locate(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p (B,) float -> grid indices (B, 2) int64 and weights (B, 2) float32 of the two kernels."""
        grid = len(self)
        if grid == 1:
            idx = torch.zeros(p.shape[0], 2, dtype=torch.long, device=p.device)
            return idx, torch.tensor([1.0, 0.0], device=p.device).expand(p.shape[0], 2)
        pos = p.float().clamp(0.0, 1.0) * (grid - 1)  # (B,)
        lower = pos.floor().clamp(max=grid - 2)
        frac = pos - lower  # (B,)
        idx = torch.stack([lower.long(), lower.long() + 1], dim=1)  # (B, 2)
        return idx, torch.stack([1.0 - frac, frac], dim=1)


class ApertureGrid:
    """Grid points keyed by aperture length, a column interpolating within its own Na bucket.

    `points_per_aperture` points span a bucket of typical width; narrower buckets at the ends of
    the swath get proportionally fewer, never fewer than two.
    """

    def __init__(self, geometry: Geometry, points_per_aperture: int = 3):
        if points_per_aperture < 2:
            raise ValueError(f"points_per_aperture must be >= 2, got {points_per_aperture}")
        self.geometry = geometry
        buckets = geometry.aperture_buckets()
        typical = max(hi - lo for _, lo, hi in buckets)
        p, half, first, lows, highs = [], [], [], [], []
        for na, lo, hi in buckets:
            count = max(2, math.ceil(points_per_aperture * (hi - lo) / typical - 1e-9))
            first.append(len(p))
            p.extend(np.linspace(lo, hi, count))
            half.extend([(na - 1) // 2] * count)
            lows.append(lo)
            highs.append(hi)
        self.p = np.asarray(p)  # (G,)
        self.rho = np.log(geometry.slant_range(self.p) / geometry.mid_range())  # (G,)
        self.half_aperture = np.asarray(half, dtype=np.int64)  # (G,) (Na - 1) / 2 of each point
        # sqrt(x / Na), x = Ta PRF unrounded: what takes a response whose amplitude follows R^-1/2 smoothly
        # (dt C, s4d_kernel.py) to the card's 1/sqrt(Na), which steps where Na is rounded (model.aperture_gain)
        x = geometry.aperture_time(geometry.slant_range(self.p)) * geometry.prf_hz  # (G,)
        self.amplitude = np.sqrt(x / (2 * self.half_aperture + 1))  # (G,)
        self.na_min = buckets[0][0]
        # per bucket: index of its first point, its point count and its p interval
        self._first = torch.tensor(first, dtype=torch.long)
        self._count = torch.tensor(np.diff([*first, len(p)]), dtype=torch.long)
        self._low = torch.tensor(lows, dtype=torch.float64)
        self._high = torch.tensor(highs, dtype=torch.float64)
        self.buckets = len(first)  # a Python int: a traced export keeps it as the constant it is

    def __len__(self) -> int:
        return len(self.p)

    def bucket(self, p: torch.Tensor) -> torch.Tensor:
        """Na bucket of each column, (B,) int64, with the data card's rounding (as metrics.valid_mask)."""
        na = self.geometry.aperture_samples(self.geometry.slant_range(p.double().clamp(0.0, 1.0)))  # (B,)
        return ((na - self.na_min) // 2).clamp(0, self.buckets - 1)

    def locate(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p (B,) -> indices (B, 2) int64 and weights (B, 2) float32, both points in p's own bucket."""
        b = self.bucket(p)  # (B,)
        first, count = self._first.to(p.device)[b], self._count.to(p.device)[b]
        low, high = self._low.to(p.device)[b], self._high.to(p.device)[b]
        frac = ((p.double() - low) / (high - low).clamp_min(1e-12)).clamp(0.0, 1.0)  # (B,)
        pos = frac * (count - 1)
        lower = pos.floor().clamp(max=(count - 2).double())
        w = (pos - lower).float()  # (B,)
        idx = first + lower.long()
        return torch.stack([idx, idx + 1], dim=1), torch.stack([1.0 - w, w], dim=1)


def build_grid(geometry: Geometry | None, range_conditioning: bool, uniform_points: int, points_per_aperture: int):
    """The grid of a layer: one point without range conditioning, by aperture with a geometry."""
    if not range_conditioning:
        return UniformGrid(1)
    if geometry is None:
        return UniformGrid(uniform_points)
    return ApertureGrid(geometry, points_per_aperture)
