"""The data-card scene simulator: clutter with log-normal texture, point targets, noise, ground truth."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import Preset, get_preset
from .physics import aperture_taps, convolve_same, focus, phase_history

TEXTURE_SIGMA = 4.0  # samples; correlation length of the clutter texture (the card leaves it open)
TEXTURE_LOG_STD = 0.5
TARGETS_PER_COLUMN = 3.0
SCR_DB = (10.0, 30.0)
SNR_DB = (5.0, 20.0)


@dataclass(frozen=True)
class SceneKind:
    """What the columns hold: point targets per column (Poisson mean), the input SNR range (dB), and the
    statistics the card leaves open: the texture's correlation length (samples), the targets' SCR range (dB)
    and where they fall (uniformly over the extended grid, or within one aperture of the column's ends).

    The card's columns are one kind; a SAR user judges a focuser on the others too (a focuser fitted to
    the card's mix can lose to the matched filter where the mix differs, e.g. clutter alone).
    """

    targets_per_column: float = TARGETS_PER_COLUMN
    snr_db: tuple[float, float] = SNR_DB
    texture_sigma: float = TEXTURE_SIGMA
    scr_db: tuple[float, float] = SCR_DB
    at_ends: bool = False


SCENE_KINDS = {
    "card": SceneKind(),  # the data card: 3 targets a column, SNR 5-20 dB
    "clutter_only": SceneKind(targets_per_column=0.0),
    "dense": SceneKind(targets_per_column=12.0),  # 4x the card's targets
    "very_dense": SceneKind(targets_per_column=30.0),  # 10x
    "low_snr": SceneKind(snr_db=(-5.0, 5.0)),  # 10 dB below the card's range
    # the statistics the card leaves open, each moved alone
    "smooth_texture": SceneKind(texture_sigma=16.0),  # 4x the correlation length
    "rough_texture": SceneKind(texture_sigma=1.0),
    "bright_targets": SceneKind(scr_db=(25.0, 40.0)),
    "faint_targets": SceneKind(scr_db=(0.0, 10.0)),
    "targets_at_ends": SceneKind(at_ends=True),  # every target within one aperture of a column end
}
MIX_STREAM = 7919  # the second seed word of a mix's kind assignments


def _texture(rng: np.random.Generator, n: int, e: int, sigma: np.ndarray | None = None) -> np.ndarray:
    """Log-normal texture mu (n, e): a Gaussian-smoothed normal field, std 0.5 in log units, mean 1.

    sigma: each column's correlation length (n,) (TEXTURE_SIGMA for all by default); the field is drawn
    for the longest, so columns of the card's length keep the card's draws in any mix that has no longer one.
    """
    sigma = np.full(n, TEXTURE_SIGMA) if sigma is None else np.asarray(sigma, dtype=np.float64)
    radius = int(4 * sigma.max())
    k = np.arange(-radius, radius + 1)  # (K,)
    w = np.exp(-0.5 * (k[None, :] / sigma[:, None]) ** 2) * (np.abs(k)[None, :] <= 4 * sigma[:, None])  # (n, K)
    w /= np.sqrt(np.sum(w**2, axis=1, keepdims=True))  # smoothing keeps unit variance
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
    preset: Preset,
    n: int,
    seed: int,
    targets_per_column: float | np.ndarray = TARGETS_PER_COLUMN,
    p: np.ndarray | None = None,
    snr_db: tuple[float | np.ndarray, float | np.ndarray] = SNR_DB,
    parts: bool = False,
    texture_sigma: np.ndarray | None = None,
    scr_db: tuple[float | np.ndarray, float | np.ndarray] = SCR_DB,
    at_ends: bool | np.ndarray = False,
) -> dict[str, np.ndarray]:
    """Simulate n columns; returns raw (noisy) line, ground truth and the per-column geometry.

    parts: also return what the data hide (for the genie of data/limit.py): the texture "mu" (n, E), the
    clutter's raw line "clutter_raw" (n, E) and the noise "noise" (n, L) (the targets are the rest), and
    "origin" (column sample i is grid index i + origin).

    p: the columns' positional encodings (n,) (a scene's range bins); drawn uniformly when None.
    targets_per_column: the Poisson mean, one for all or one per column (n,); snr_db: the range the
    input SNR is drawn from; texture_sigma (n,), scr_db and at_ends (SceneKind's) likewise. With the
    defaults, the data card's columns (the same draws for a seed).
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

    mu = _texture(rng, n, ext, texture_sigma)  # (n, ext)
    clutter = _complex_normal(rng, (n, ext), mu / na[:, None])  # scatterer amplitudes
    taps, half_max = aperture_taps(ka, na, prf)
    raw = convolve_same(clutter, taps, half_max)  # (n, ext) complex128
    clutter_raw = raw.copy() if parts else None

    counts = rng.poisson(targets_per_column, n)
    rows = np.repeat(np.arange(n), counts)  # (T,)
    pos = rng.uniform(-na[rows], length + na[rows] - 1)  # continuous, over each column's own grid
    ends = np.broadcast_to(np.asarray(at_ends), (n,))[rows]  # (T,) bool
    if ends.any():  # the same draw mapped onto [-Na, Na) and [L - Na, L + Na): within one aperture of an end
        t = (pos + na[rows]) / (length + 2 * na[rows] - 1)  # (T,) in [0, 1)
        near = np.where(t < 0.5, -na[rows] + 4 * na[rows] * t, length - na[rows] + 4 * na[rows] * (t - 0.5))
        pos = np.where(ends, near, pos)
    low, high = (np.broadcast_to(np.asarray(b, dtype=np.float64), (n,))[rows] for b in scr_db)
    scr = rng.uniform(low, high, len(rows))
    amps = 10.0 ** (scr / 20.0) * np.exp(2j * np.pi * rng.uniform(0.0, 1.0, len(rows)))
    _add_point_targets(raw, origin, rows, pos, amps, ka, na, prf)

    truth = focus(raw, ka, na, prf)[:, origin : origin + length]  # (n, L) noise-free
    snr = rng.uniform(*snr_db, n)
    noise = _complex_normal(rng, (n, length), 10.0 ** (-snr / 10.0)[:, None])
    out = {"raw": raw[:, origin : origin + length] + noise, "truth": truth, "p": p, "ka": ka, "na": na, "snr_db": snr}
    if parts:
        out |= {"mu": mu, "clutter_raw": clutter_raw, "noise": noise, "origin": origin}
    return out


def to_tensors(line: np.ndarray, p: np.ndarray, truth: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Pack per the data card: x (n, L, 2) complex64 = [line, p + 0j], y (n, L, 1) complex64."""
    pos = np.broadcast_to(p[:, None], line.shape)
    x = torch.from_numpy(np.stack([line, pos.astype(np.complex128)], axis=-1).astype(np.complex64))
    y = torch.from_numpy(truth[..., None].astype(np.complex64))
    return x, y


def scene_draws(n: int, seed: int, kinds: str | Mapping[str, float]) -> dict:
    """Each column's draws for one SCENE_KINDS kind or a mix {kind: weight}, as simulate_numpy's keywords:
    targets_per_column (n,), snr_db ((n,), (n,)), texture_sigma (n,), scr_db ((n,), (n,)), at_ends (n,).

    A mix assigns each column a kind from its own generator (seed, MIX_STREAM), so the columns' own draws
    keep the order a single kind gives them.
    """
    mix = {kinds: 1.0} if isinstance(kinds, str) else dict(kinds)
    unknown = [k for k in mix if k not in SCENE_KINDS]
    if unknown:
        raise ValueError(f"unknown scene kind {unknown[0]!r} (choose from {', '.join(SCENE_KINDS)})")
    names = list(mix)
    weights = np.array([mix[k] for k in names], dtype=np.float64)
    chosen = np.random.default_rng((seed, MIX_STREAM)).choice(len(names), size=n, p=weights / weights.sum())
    scenes = [SCENE_KINDS[names[i]] for i in chosen]

    def column(field: str) -> np.ndarray:
        return np.array([getattr(s, field) for s in scenes])

    return {
        "targets_per_column": column("targets_per_column"),
        "snr_db": tuple(column("snr_db").T),
        "texture_sigma": column("texture_sigma"),
        "scr_db": tuple(column("scr_db").T),
        "at_ends": column("at_ends"),
    }


def simulate(preset, n: int, seed: int, kind: str | Mapping[str, float] = "card") -> tuple[torch.Tensor, torch.Tensor]:
    """n columns of `preset` (a name or a geometry.Preset) from `seed`: of one SCENE_KINDS kind (the data
    card's by default) or of a mix {kind: weight}; x complex64 (n, L, 2), y complex64 (n, L, 1)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    sim = simulate_numpy(get_preset(preset), n, seed, **scene_draws(n, seed, kind))
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
