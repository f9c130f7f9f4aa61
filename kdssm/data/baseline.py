"""The classical baseline: the data card's focusing operator on the noisy line with each column's own Ka."""

from __future__ import annotations

import numpy as np
import torch

from ..geometry import get_preset
from .physics import focus


def column_geometry(x: torch.Tensor, preset: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (Ka, Na) from the positional encoding channel of x (B, L, 2)."""
    pre = get_preset(preset)
    p = x[..., 1].real.mean(dim=1).double().cpu().numpy().clip(0.0, 1.0)  # (B,)
    r0 = pre.slant_range(p)
    return pre.fm_rate(r0), pre.aperture_samples(r0)


def matched_filter(x: torch.Tensor, preset: str) -> torch.Tensor:
    """Focus each column of x (B, L, 2) complex with its own Ka: returns y_hat (B, L, 1) complex64."""
    pre = get_preset(preset)
    ka, na = column_geometry(x, preset)
    line = x[..., 0].detach().cpu().numpy().astype(np.complex128)  # (B, L)
    y_hat = focus(line, ka, na, pre.prf_hz)  # (B, L) zero outside the column: edge apertures are cut
    return torch.from_numpy(y_hat.astype(np.complex64))[..., None].to(x.device)
