"""Error bars for distill_gain.py: arms scored per test column and per seed, compared by a paired bootstrap.

An arm's score on a set of columns is the data card's nmse over the whole set, averaged over its seeds:

    nmse_db(arm) = 10 log10( sum_c mean_s err[s, c] / sum_c energy[c] )

err[s, c] = sum_i |y_hat - y|^2 over column c of the run with seed s, energy[c] = sum_i |y|^2 (the same
columns for every arm). A difference between two arms is resampled B times, each time drawing the test
columns with replacement *and* the seeds with replacement, the same draws for both arms (paired: the same
columns, the same seed indices, so the same initialisations where the arms share them); the 95 % interval is
its 2.5th and 97.5th percentiles. Drawing the seeds too puts the run-to-run spread into the interval, which
a bootstrap over columns alone would leave out.

rho, the share of the gap to full labels that distillation closes, is a ratio of such differences,

    rho = (twin - distilled) / (twin - full_labels)    (each an nmse in dB)

resampled the same way (replicates where the denominator is not positive count as undefined and are left out;
their share is reported).
"""

from __future__ import annotations

import numpy as np


def column_energy(z: np.ndarray) -> np.ndarray:
    """z (n, L[, 1]) complex -> sum_i |z|^2 of each column (n,) float64."""
    power = np.abs(np.asarray(z)) ** 2
    return power.sum(axis=tuple(range(1, power.ndim))).astype(np.float64)


def column_errors(y_hat: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y_hat, y (n, L[, 1]) complex -> (err (n,), energy (n,)) float64 per column."""
    return column_energy(np.asarray(y_hat) - np.asarray(y)), column_energy(y)


def nmse_db(err: np.ndarray, energy: np.ndarray) -> float:
    """err (seeds, n), energy (n,) -> the arm's nmse in dB over all columns, averaged over seeds."""
    return float(10.0 * np.log10(err.mean(axis=0).sum() / energy.sum()))


def _draws(seeds: int, columns: int, replicates: int, rng: np.random.Generator):
    seed_draws = rng.integers(0, seeds, size=(replicates, seeds))  # (B, S)
    column_draws = rng.integers(0, columns, size=(replicates, columns))  # (B, n)
    return seed_draws, column_draws


def _replicates(err: np.ndarray, energy: np.ndarray, seed_draws: np.ndarray, column_draws: np.ndarray) -> np.ndarray:
    """nmse dB of each bootstrap replicate (B,)."""
    out = np.empty(len(seed_draws))
    for b, (s, c) in enumerate(zip(seed_draws, column_draws)):
        out[b] = 10.0 * np.log10(err[s][:, c].mean(axis=0).sum() / energy[c].sum())
    return out


def interval(values: np.ndarray) -> list[float]:
    """The 95 % percentile interval [low, high] of bootstrap replicates."""
    low, high = np.percentile(values, [2.5, 97.5])
    return [float(low), float(high)]


def paired_difference(
    a: np.ndarray, b: np.ndarray, energy: np.ndarray, replicates: int = 2000, seed: int = 0
) -> dict[str, float | list[float]]:
    """nmse_db(a) - nmse_db(b) (dB; negative: a is better) with its 95 % paired-bootstrap interval.
    a, b: err (seeds, n) of two arms with the same seed count on the same columns."""
    if a.shape != b.shape:
        raise ValueError(f"paired arms need the same seeds and columns, got {a.shape} and {b.shape}")
    draws = _draws(a.shape[0], a.shape[1], replicates, np.random.default_rng(seed))
    diff = _replicates(a, energy, *draws) - _replicates(b, energy, *draws)
    return {"difference_db": nmse_db(a, energy) - nmse_db(b, energy), "interval_db": interval(diff)}


def gap_closed(
    twin: np.ndarray,
    distilled: np.ndarray,
    full: np.ndarray,
    energy: np.ndarray,
    replicates: int = 2000,
    seed: int = 0,
) -> dict[str, float | list[float] | None]:
    """rho = (twin - distilled) / (twin - full) in nmse dB, with its 95 % paired-bootstrap interval."""
    if not (twin.shape == distilled.shape == full.shape):
        shapes = f"{twin.shape}, {distilled.shape}, {full.shape}"
        raise ValueError(f"paired arms need the same seeds and columns, got {shapes}")
    draws = _draws(twin.shape[0], twin.shape[1], replicates, np.random.default_rng(seed))
    t, d, f = (_replicates(err, energy, *draws) for err in (twin, distilled, full))
    gap = t - f
    defined = gap > 0
    point_gap = nmse_db(twin, energy) - nmse_db(full, energy)
    point = (nmse_db(twin, energy) - nmse_db(distilled, energy)) / point_gap if point_gap > 0 else None
    values = (t - d)[defined] / gap[defined]
    return {
        "rho": point,
        "interval": interval(values) if defined.any() else None,
        "undefined_share": float(1.0 - defined.mean()),
        "gap_db": point_gap,
    }
