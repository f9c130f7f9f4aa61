"""The physical limit of focusing a data-card column: a genie that knows everything but the clutter.

The genie knows every point target (position, amplitude, phase), the clutter's texture mu and the noise
power; it subtracts the targets exactly and estimates the Gaussian clutter's focused image by linear
MMSE from the L observed samples. On the simulator's extended grid of E samples (column sample i is grid
index i + origin), with clutter scatterers a ~ CN(0, S), S = diag(mu / Na), and the phase history h:

    observed clutter  r = C a + n,   C[i, j] = h[i + origin - j]          (L x E), n ~ CN(0, s2 I)
    focused clutter   y = G a,       G[i, j] = k[i + origin - j]          (L x E), k = conj(g) * h
    estimate          y_hat = B A^-1 r,   A = C S C^H + s2 I,   B = G S C^H
    error covariance  P = G S G^H - B A^-1 B^H

The limit of a split is sum_columns trace(P) / sum_columns |y|^2 (the card's nmse, summed over the
split), and the same over the valid rows. `genie_estimate` applies the estimator to a realisation (the
Monte-Carlo twin the closed form is tested against).
"""

from __future__ import annotations

import numpy as np

from ..geometry import get_preset
from ..metrics import valid_mask
from .physics import aperture_taps, focus
from .simulate import scene_draws, simulate_numpy, to_tensors


def column_operators(ka: float, na: int, prf: float, origin: int, length: int, extent: int):
    """(C, G) of one column: (L, E) complex128 each (module docstring)."""
    taps, half = aperture_taps(np.array([ka]), np.array([na]), prf)  # (1, 2 half + 1): h on offsets -half..half
    h = taps[0]
    k = np.convolve(np.conj(h) / np.sqrt(na), h)  # (4 half + 1,): the point-target response on offsets
    lag = np.arange(length)[:, None] + origin - np.arange(extent)[None, :]  # (L, E) i + origin - j
    c = np.where(np.abs(lag) <= half, h[np.clip(lag + half, 0, 2 * half)], 0.0)
    g = np.where(np.abs(lag) <= 2 * half, k[np.clip(lag + 2 * half, 0, 4 * half)], 0.0)
    return c, g


def _seen(na: int, origin: int, length: int) -> slice:
    """The grid samples whose scatterers reach an observed sample: origin - half .. origin + L - 1 + half."""
    half = (na - 1) // 2
    return slice(origin - half, origin + length + half)


def _posterior(c: np.ndarray, g: np.ndarray, variance: np.ndarray, noise_power: float):
    """(the lower Cholesky factor of A (L, L), B (L, L)) for scatterer variances (E,)."""
    from scipy.linalg import cholesky

    a = (c * variance[None, :]) @ c.conj().T + noise_power * np.eye(c.shape[0])  # (L, L) Hermitian, > 0
    b = (g * variance[None, :]) @ c.conj().T  # (L, L) G S C^H
    return cholesky(a, lower=True), b


def genie_error(
    mu: np.ndarray, ka: float, na: int, prf: float, origin: int, length: int, noise_power: float
) -> np.ndarray:
    """The genie's expected squared error per output sample (L,) of one column; mu (E,) its texture.

    Scatterers no observed sample sees are estimated by their prior (zero): their whole share of
    diag(G S G^H) stays in the error, and they do not enter A or B."""
    from scipy.linalg import solve_triangular

    c, g = column_operators(ka, na, prf, origin, length, mu.shape[0])
    seen = _seen(na, origin, length)
    factor, b = _posterior(c[:, seen], g[:, seen], mu[seen] / na, noise_power)
    prior = np.einsum("ij,j,ij->i", g, mu / na, g.conj()).real  # every scatterer's share
    x = solve_triangular(factor, b.conj().T, lower=True)  # (L, L) L^-1 B^H: diag(B A^-1 B^H) = column norms
    return np.maximum(prior - np.sum(np.abs(x) ** 2, axis=0), 0.0)


def genie_estimate(
    observed: np.ndarray, mu: np.ndarray, ka: float, na: int, prf: float, origin: int, noise_power: float
) -> np.ndarray:
    """The genie's estimate (L,) of the focused clutter from the observed clutter plus noise (L,)."""
    from scipy.linalg import cho_solve

    c, g = column_operators(ka, na, prf, origin, observed.shape[0], mu.shape[0])
    seen = _seen(na, origin, observed.shape[0])
    factor, b = _posterior(c[:, seen], g[:, seen], mu[seen] / na, noise_power)
    return b @ cho_solve((factor, True), observed)


def split_limit(preset, n: int, seed: int, kind="card", columns: int | None = None, monte_carlo: bool = False) -> dict:
    """The limit on the split simulate(preset, n, seed, kind) makes, over its first `columns` columns (all by
    default): nmse_db and nmse_valid_db of the genie in closed form, and with monte_carlo the same of its
    estimator applied to the columns' own clutter and noise (monte_carlo_nmse_db, ..._valid_db)."""
    pre = get_preset(preset)
    sim = simulate_numpy(pre, n, seed, parts=True, **scene_draws(n, seed, kind))
    k = n if columns is None else min(columns, n)
    length, origin, prf = pre.length, sim["origin"], pre.prf_hz
    noise_power = 10.0 ** (-sim["snr_db"][:k] / 10.0)  # (k,)
    ka, na, mu = sim["ka"][:k], sim["na"][:k], sim["mu"][:k]
    x, _ = to_tensors(sim["raw"][:k], sim["p"][:k], sim["truth"][:k])
    energy, valid = np.abs(sim["truth"][:k]) ** 2, valid_mask(x, pre).numpy()  # (k, L) each, as scores mask
    error = np.stack([genie_error(mu[c], ka[c], int(na[c]), prf, origin, length, noise_power[c]) for c in range(k)])
    out = {"columns": k, **_db(error, energy, valid, "")}
    if monte_carlo:
        clutter = sim["clutter_raw"][:k]  # (k, E)
        focused = focus(clutter, ka, na, prf)[:, origin : origin + length]  # (k, L) the focused clutter
        observed = clutter[:, origin : origin + length] + sim["noise"][:k]
        estimate = np.stack(
            [genie_estimate(observed[c], mu[c], ka[c], int(na[c]), prf, origin, noise_power[c]) for c in range(k)]
        )
        out |= _db(np.abs(estimate - focused) ** 2, energy, valid, "monte_carlo_")
    return out


def _db(error: np.ndarray, energy: np.ndarray, valid: np.ndarray, prefix: str) -> dict:
    return {
        f"{prefix}nmse_db": float(10 * np.log10(error.sum() / energy.sum())),
        f"{prefix}nmse_valid_db": float(10 * np.log10(error[valid].sum() / energy[valid].sum())),
    }


LIMIT_WORK = 32 * 1000**3  # columns x L^3 the limit is computed on at most: 1,907 mini columns, 32 s1 ones


def split_limit_of(data_cfg, which: str = "test") -> dict | None:
    """The limit of a DataConfig's simulated split (its first columns, as many as LIMIT_WORK allows: the
    genie's cost grows as L^3 a column), or None for columns read from files or products (their hidden
    parts, the texture and the noise, are unknown)."""
    from .datasets import data_columns

    if data_cfg.products or getattr(data_cfg, f"{which}_npz", None):
        return None
    preset = data_columns(data_cfg)
    n = getattr(data_cfg, f"{which}_size")
    columns = max(1, min(n, LIMIT_WORK // preset.length**3))
    return split_limit(preset, n, getattr(data_cfg, f"{which}_seed"), "card", columns=columns)
