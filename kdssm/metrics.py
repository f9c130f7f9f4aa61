"""Scores of DATA_CARD.md: NMSE over whole columns and the valid region, accuracy, point-target quality."""

from __future__ import annotations

import math

import numpy as np
import torch

from .geometry import get_preset

UPSAMPLE = 16


def _nmse(err_energy: float, ref_energy: float) -> float:
    if ref_energy <= 0.0:
        raise ValueError("nmse: the reference has no energy")
    return err_energy / ref_energy


def _db(value: float) -> float:
    return 10.0 * math.log10(max(value, 1e-30))


def nmse(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """sum |y_hat - y|^2 / sum |y|^2 over everything given."""
    y_hat, y = y_hat.detach().to(torch.complex128), y.detach().to(torch.complex128)
    return _nmse(float((y_hat - y).abs().pow(2).sum()), float(y.abs().pow(2).sum()))


def nmse_db(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    return _db(nmse(y_hat, y))


def valid_mask(x: torch.Tensor, preset) -> torch.Tensor:
    """(B, L) bool: samples at least (Na-1)/2 from either end of their column.

    Computed in torch on x's device (no host sync in a training step), with the geometry's own
    rounding of Na. `preset`: a preset name or a geometry.Preset (columns with their own geometry).
    """
    p = x[..., 1].real.mean(dim=1).double().clamp(0.0, 1.0)  # (B,)
    half = get_preset(preset).half_aperture(p)[:, None]  # (B, 1) int64
    i = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, L)
    return (i >= half) & (i <= x.shape[1] - 1 - half)


def nmse_valid_db(y_hat: torch.Tensor, y: torch.Tensor, x: torch.Tensor, preset: str) -> float:
    """nmse_db over the samples whose full aperture lies inside the column."""
    mask = valid_mask(x, preset)[..., None]  # (B, L, 1)
    return nmse_db(y_hat[mask], y[mask])


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """max(0, 1 - nmse)."""
    return max(0.0, 1.0 - nmse(y_hat, y))


def retention(student_accuracy: float, teacher_accuracy: float) -> float:
    """Student accuracy / teacher accuracy (a teacher at accuracy 0 counts as 1e-12)."""
    return student_accuracy / max(teacher_accuracy, 1e-12)


def upsample(line: np.ndarray, factor: int = UPSAMPLE) -> np.ndarray:
    """Band-limited interpolation by zero padding the spectrum: (L,) complex -> (factor*L,) complex."""
    n = line.shape[0]
    spec = np.fft.fft(line)
    padded = np.zeros(n * factor, dtype=complex)
    half = (n + 1) // 2
    padded[:half] = spec[:half]
    padded[-(n - half) :] = spec[half:]
    return np.fft.ifft(padded) * factor


def impulse_response(line) -> dict[str, float]:
    """PSLR, ISLR (dB) and IRW (samples) of one focused line, on a 16x up-sampled magnitude.

    The main lobe spans the first minima either side of the peak; IRW is its -3 dB width.
    """
    line = np.asarray(line.detach().cpu() if torch.is_tensor(line) else line).reshape(-1)
    power = np.abs(upsample(line.astype(np.complex128))) ** 2  # (16 L,)
    peak = int(np.argmax(power))
    left = peak
    while left > 0 and power[left - 1] < power[left]:
        left -= 1
    right = peak
    while right < len(power) - 1 and power[right + 1] < power[right]:
        right += 1
    main = power[left : right + 1].sum()
    sides = np.concatenate([power[:left], power[right + 1 :]])
    pslr = _db(sides.max() / power[peak]) if sides.size else -math.inf
    islr = _db(sides.sum() / main) if sides.size else -math.inf
    return {"pslr_db": pslr, "islr_db": islr, "irw_samples": _half_power_width(power, peak) / UPSAMPLE}


def _half_power_width(power: np.ndarray, peak: int) -> float:
    """Width (up-sampled bins) where power >= peak / 2, with linear interpolation at both edges."""
    half = power[peak] / 2.0
    lo = peak
    while lo > 0 and power[lo - 1] >= half:
        lo -= 1
    hi = peak
    while hi < len(power) - 1 and power[hi + 1] >= half:
        hi += 1
    left_edge = lo - (power[lo] - half) / (power[lo] - power[lo - 1]) if lo > 0 else float(lo)
    right_edge = hi + (power[hi] - half) / (power[hi] - power[hi + 1]) if hi < len(power) - 1 else float(hi)
    return right_edge - left_edge
