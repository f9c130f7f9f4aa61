"""The data-card scene simulator: clutter with log-normal texture, point targets, noise, ground truth."""

from __future__ import annotations

import numpy as np
import torch

from ..geometry import Preset, get_preset
from .physics import aperture_taps, convolve_same, focus, phase_history

TEXTURE_SIGMA = 4.0  # samples; correlation length of the clutter texture (the card leaves it open)
TEXTURE_LOG_STD = 0.5
TARGETS_PER_COLUMN = 3.0
SCR_DB = (10.0, 30.0)
SNR_DB = (5.0, 20.0)


def _texture(rng: np.random.Generator, n: int, e: int) -> np.ndarray:
    """Log-normal texture mu (n, e): a Gaussian-smoothed normal field, std 0.5 in log units, mean 1."""
    radius = int(4 * TEXTURE_SIGMA)
    w = np.exp(-0.5 * (np.arange(-radius, radius + 1) / TEXTURE_SIGMA) ** 2)
    w /= np.sqrt(np.sum(w**2))  # smoothing keeps unit variance
    field = rng.standard_normal((n, e + 2 * radius))
    smooth = np.fft.irfft(np.fft.rfft(field) * np.fft.rfft(w, field.shape[1]), field.shape[1])
    mu = np.exp(TEXTURE_LOG_STD * smooth[:, 2 * radius :])  # (n, e) valid part of the circular conv
    return mu / mu.mean(axis=1, keepdims=True)


def _complex_normal(rng: np.random.Generator, shape, power) -> np.ndarray:
    """CN(0, power): real and imaginary parts each of variance power / 2."""
    scale = np.sqrt(np.asarray(power) / 2.0)
    return scale * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def _add_point_targets(
    raw: np.ndarray,
    origin: int,
    rows: np.ndarray,
    pos: np.ndarray,
    amps: np.ndarray,
    ka: np.ndarray,
    na: np.ndarray,
    prf: float,
) -> None:
    """raw[row, j] += amp * c((j - origin - pos) / PRF) for each target, in place.

    raw: (C, E) complex, grid index j holds column sample j - origin; rows, pos, amps: (T,).
    ka, na: per column (C,). Only the samples inside each target's aperture are touched.
    """
    if len(rows) == 0:
        return
    width = int(na[rows].max()) + 3
    start = np.floor(pos + origin - width / 2.0).astype(np.int64)  # (T,)
    cols = start[:, None] + np.arange(width)[None, :]  # (T, W) grid indices
    offsets = cols - origin - pos[:, None]  # (T, W) samples from the target
    contrib = amps[:, None] * phase_history(offsets, ka[rows], na[rows], prf)  # (T, W)
    ok = (cols >= 0) & (cols < raw.shape[1])
    np.add.at(raw, (np.broadcast_to(rows[:, None], cols.shape)[ok], cols[ok]), contrib[ok])


def simulate_numpy(
    preset: Preset, n: int, seed: int, targets_per_column: float = TARGETS_PER_COLUMN, p: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Simulate n columns; returns raw (noisy) line, ground truth and the per-column geometry.

    p: the columns' positional encodings (n,) (a scene's range bins); drawn uniformly when None.
    """
    rng = np.random.default_rng(seed)
    length, prf = preset.length, preset.prf_hz
    drawn = rng.uniform(0.0, 1.0, n)  # drawn either way: a given seed yields the same rest
    p = drawn if p is None else np.asarray(p, dtype=np.float64)
    r0 = preset.slant_range(p)
    ka, na = preset.fm_rate(r0), preset.aperture_samples(r0)  # (n,) float64, int64
    # One common extended grid of L + 2 Na_max samples; grid index j is column sample j - Na_max.
    # Scatterers beyond a column's own +-Na never reach its needed samples, so sharing is exact.
    origin = int(na.max())
    ext = length + 2 * origin

    mu = _texture(rng, n, ext)  # (n, ext)
    clutter = _complex_normal(rng, (n, ext), mu / na[:, None])  # scatterer amplitudes
    taps, half_max = aperture_taps(ka, na, prf)
    raw = convolve_same(clutter, taps, half_max)  # (n, ext) complex128

    counts = rng.poisson(targets_per_column, n)
    rows = np.repeat(np.arange(n), counts)  # (T,)
    pos = rng.uniform(-na[rows], length + na[rows] - 1)  # continuous, over each column's own grid
    scr = rng.uniform(*SCR_DB, len(rows))
    amps = 10.0 ** (scr / 20.0) * np.exp(2j * np.pi * rng.uniform(0.0, 1.0, len(rows)))
    _add_point_targets(raw, origin, rows, pos, amps, ka, na, prf)

    truth = focus(raw, ka, na, prf)[:, origin : origin + length]  # (n, L) noise-free
    snr = rng.uniform(*SNR_DB, n)
    noisy = raw[:, origin : origin + length] + _complex_normal(rng, (n, length), 10.0 ** (-snr / 10.0)[:, None])
    return {"raw": noisy, "truth": truth, "p": p, "ka": ka, "na": na, "snr_db": snr}


def to_tensors(line: np.ndarray, p: np.ndarray, truth: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Pack per the data card: x (n, L, 2) complex64 = [line, p + 0j], y (n, L, 1) complex64."""
    pos = np.broadcast_to(p[:, None], line.shape)
    x = torch.from_numpy(np.stack([line, pos.astype(np.complex128)], axis=-1).astype(np.complex64))
    y = torch.from_numpy(truth[..., None].astype(np.complex64))
    return x, y


def simulate(preset, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n data-card columns of `preset` (a name or a geometry.Preset) from `seed`: x complex64 (n, L, 2),
    y complex64 (n, L, 1)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    sim = simulate_numpy(get_preset(preset), n, seed)
    return to_tensors(sim["raw"], sim["p"], sim["truth"])


def point_target(preset, p: float = 0.5, offset: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One isolated unit target (no clutter, no noise) at the column centre (L-1)/2 + offset.

    Returns x (1, L, 2) and y (1, L, 1) complex64 like `simulate`.
    """
    pre = get_preset(preset)
    p_arr = np.array([float(p)])
    r0 = pre.slant_range(p_arr)
    ka, na = pre.fm_rate(r0), pre.aperture_samples(r0)
    origin = int(na[0])
    raw = np.zeros((1, pre.length + 2 * origin), dtype=np.complex128)
    pos = np.array([(pre.length - 1) / 2.0 + offset])
    _add_point_targets(raw, origin, np.array([0]), pos, np.array([1.0 + 0j]), ka, na, pre.prf_hz)
    truth = focus(raw, ka, na, pre.prf_hz)[:, origin : origin + pre.length]
    return to_tensors(raw[:, origin : origin + pre.length], p_arr, truth)
