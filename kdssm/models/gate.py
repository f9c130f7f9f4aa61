"""Selectivity gate: a content- and position-dependent gain on a layer's residual update.

Focusing is linear, but restoring a column's edges is not: an output sample near an end of the
column needs raw samples beyond it, and only for sparse bright targets can they be inferred (from
the part of their chirp that is inside). The best linear estimator gains nothing there (-10.91 dB
against the matched filter's -10.71 dB on mini); a gain that depends on the content and on the
place in the column can.

    g = a + j b,   (a, b) = MLP([log(1 + |W v|), e_left, e_right, p]),   update -> g * update

- |W v|: magnitudes of a bias-free complex projection of the layer's input. A global phase of the
  column rotates W v but not its magnitudes, so a gated model stays phase-equivariant
  (x e^{j phi} -> y e^{j phi}); on the unit-rms stream (scale_equivariant) they are scale-free.
  W mixes channels before the magnitude, so relative phases between channels still count.
- e_left = min(i / a, 1), e_right = min((L - 1 - i) / a, 1): where sample i lies relative to the
  aperture half-length a of its column (1 in the valid region, where nothing is missing); without
  a geometry, a = (L - 1) / 2.
- The gain is complex: a target whose aperture is cut lacks the mirror image of a sub-band that is
  inside the column, and putting it back turns the phase of the focused samples around the peak,
  which no real gain on a linear feature can do (a per-sample real gain, even chosen by an oracle,
  leaves mini's edge targets at -9.4 dB; measured in this session). Its magnitude and phase come
  from phase-invariant features, so equivariance holds.
- It starts constant (the MLP's last weights zero): open (g = 1, the update passes as it is) or
  closed (g = 0). A closed gate behind full-scale mixing leaves the model as it was while its own
  gradient is already alive; this is how the layers after a matched-filter start begin (an open
  gate behind near-zero mixing is a saddle: the filter is the best linear estimator, so the mixing
  gets no gradient, and the gate none through it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..geometry import Geometry
from .complex import ComplexLinear

POSITION_FEATURES = 3  # e_left, e_right, p


def edge_half(p: torch.Tensor, length: int, geometry: Geometry | None) -> torch.Tensor:
    """a of each column (B,) as p's dtype: its half aperture (at least 1), (L - 1) / 2 without a geometry.
    The samples i < a and L - 1 - i < a are its edges (whole numbers with a geometry)."""
    if geometry is None:
        return torch.full_like(p, max(1.0, (length - 1) / 2.0))  # (B,)
    return geometry.half_aperture(p.double().clamp(0.0, 1.0)).clamp_min(1).to(p.dtype)  # (B,)


def position_features(
    p: torch.Tensor, length: int, geometry: Geometry | None, samples: torch.Tensor | None = None
) -> torch.Tensor:
    """(B,) positional encodings -> (B, S, 3) float32 [e_left, e_right, p] (see the module docstring) of the
    `samples` (S,) int64 of columns of `length` (all L of them when None)."""
    half = edge_half(p, length, geometry)  # (B,)
    if samples is None:
        samples = torch.arange(length, device=p.device)
    i = samples.to(device=p.device, dtype=p.dtype)[None, :]  # (1, S)
    left = (i / half[:, None]).clamp(max=1.0)  # (B, S)
    right = ((length - 1 - i) / half[:, None]).clamp(max=1.0)
    return torch.stack([left, right, p[:, None].expand(-1, i.shape[1])], dim=-1).float()


def edge_mask(position: torch.Tensor) -> torch.Tensor:
    """(..., 3) position features -> (...) float32: 1 where part of the aperture lies outside the column
    (e_left < 1 or e_right < 1), 0 in the valid region."""
    return (position[..., :2].amin(dim=-1) < 1.0).to(position.dtype)


class SelectivityGate(nn.Module):
    """One complex gain per time step from phase-invariant features (module docstring)."""

    def __init__(self, channels: int, hidden: int, width: int = 8, edges_only: bool = False):
        super().__init__()
        self.edges_only = edges_only  # gain 0 where the whole aperture is inside the column
        self.proj = ComplexLinear(channels, width, bias=False)
        self.hidden = nn.Linear(width + POSITION_FEATURES, hidden)
        self.out = nn.Linear(hidden, 2)  # real and imaginary part of the gain
        nn.init.zeros_(self.out.weight)
        self.set_constant(1.0)  # open: the gate starts as the identity

    @torch.no_grad()
    def set_constant(self, gain: float) -> None:
        """Make the gate the constant `gain` (1: open, 0: closed), its features still connected."""
        self.out.weight.zero_()
        self.out.bias.copy_(torch.tensor([gain, 0.0]))

    def forward(self, v: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """v (B, L, H) complex64, position (B, L, 3) float32 -> gain (B, L, 1) complex64."""
        magnitudes = torch.log1p(self.proj(v).abs())  # (B, L, width) float32
        feats = torch.cat([magnitudes, position], dim=-1)  # (B, L, width + 3)
        gain = self.out(F.gelu(self.hidden(feats)))  # (B, L, 2) float32
        if self.edges_only:
            gain = gain * edge_mask(position).unsqueeze(-1)  # (B, L, 2)
        return torch.view_as_complex(gain.contiguous()).unsqueeze(-1)  # (B, L, 1) complex64
