"""Whole scenes per DATA_CARD.md: a raw array (azimuth samples, range bins) with the slant range of
each range bin, simulated line by line with the column simulator, and focused by the matched filter
on whole lines (no tiles: the classical operator runs at any length)."""

from __future__ import annotations

import numpy as np

from ..geometry import Geometry, columns_of
from .physics import focus
from .simulate import TARGETS_PER_COLUMN, simulate_numpy

TARGET_DENSITY = TARGETS_PER_COLUMN / 256  # point targets per azimuth sample, as in a mini column


def simulate_scene(
    geometry: Geometry,
    azimuth: int,
    range_bins: int,
    seed: int,
    targets_per_sample: float = TARGET_DENSITY,
    p: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """raw (A, R) complex64 (noisy), truth (A, R) complex64 (noise-free focused), slant_range_m (R,) float64.

    The range bins spread evenly over the swath, or lie at positional encodings p (R,); every range bin is
    one data-card column of A samples.
    """
    if azimuth < 1 or range_bins < 1:
        raise ValueError(f"a scene needs at least one sample and one range bin, got {azimuth} x {range_bins}")
    p = np.linspace(0.0, 1.0, range_bins) if p is None else np.asarray(p, dtype=np.float64)  # (R,)
    sim = simulate_numpy(
        columns_of(geometry, azimuth), range_bins, seed, targets_per_column=targets_per_sample * azimuth, p=p
    )
    return {
        "raw": sim["raw"].T.astype(np.complex64),
        "truth": sim["truth"].T.astype(np.complex64),
        "slant_range_m": geometry.slant_range(p),
    }


def matched_filter_lines(lines: np.ndarray, p: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The data card's focusing of whole azimuth lines (N, A) complex at positional encodings p (N,)
    -> (N, A) complex64."""
    r0 = geometry.slant_range(np.clip(p, 0.0, 1.0))
    ka, na = geometry.fm_rate(r0), geometry.aperture_samples(r0)
    return focus(lines.astype(np.complex128), ka, na, geometry.prf_hz).astype(np.complex64)
