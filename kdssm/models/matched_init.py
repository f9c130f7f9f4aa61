"""Matched-filter initialisation: an untrained sarSSM that already focuses.

The data card's focusing operator is a two-sided convolution with the reference function of the
column's range, h_R[l] = exp(j pi Ka(R) (l / PRF)^2) / sqrt(Na(R)) for |l| <= (Na(R) - 1) / 2.
With dt(R) = dt0 (R / R_mid)^-1/2 and dt0 = sqrt(Ka(R_mid)) / PRF, the phase is pi tau^2 at
tau = l dt(R), and the amplitude 1/sqrt(Na) ~ R^-1/2 is dt(R) itself (the kernel is dt times the
sampled continuous response, s4d_kernel.py). So one continuous response k(tau) = exp(j pi tau^2)
on tau <= tau_top, with the aperture window of the grid point, is every range's reference:

    dt_g sum_n C_n exp(A_n dt_g l) ~ h_g[l],   A_n = -alpha + j omega_n,   l = 0 .. (Na_g - 1) / 2

The mode frequencies omega_n spread evenly over [0, 1.05 * 2 pi tau_top] (the chirp's top
instantaneous frequency), damping alpha = half their spacing, and C (with the l = 0 tap's D) by
ridge least squares over the grid. The chirp's time-bandwidth product tau_top^2 sets how many
modes that takes (about 1.6 tau_top^2: 23 on mini, 221 on s1); when one channel has fewer, the
frequencies are dealt out over groups of channels whose kernels add up.

The stream then carries it: the input projection writes the line along v_raw = 1/sqrt(H), the
first layer's mixing writes the sum of its channels along v_foc (the H-th roots of unity / sqrt(H),
orthogonal to v_raw), the output projection reads v_foc; later layers start with the same
dynamics (the same band, covered more sparsely when model.later_state_dim is smaller) and kernels
of unit energy, either gated with full-scale mixing behind a closed gate (gate.py says why) or
ungated with a thousandth of a random mixing. With H = 1 the first layer replaces the line by its
focused version (D - 1).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..config import ConfigError
from ..geometry import Geometry
from .range_grid import ApertureGrid

MODES_PER_TIME_BANDWIDTH = 1.6  # modes per unit of tau_top^2 for a -45 dB fit (measured on both presets)
FREQUENCY_MARGIN = 1.05
FIT_POINTS = 12  # grid points whose taps enter the least squares (the family is smooth in between)
RIDGE = 1e-7  # relative to the mean diagonal of the normal equations
TOO_SMALL_DB = -10.0
LATER_MIX_SCALE = 1e-3  # a fit worse than this is no focusing start: refused


def reference_taps(grid: ApertureGrid, index: int) -> np.ndarray:
    """h_g[l] = exp(j pi Ka (l / PRF)^2) / sqrt(Na), l = 0 .. (Na - 1) / 2 at grid point `index`: complex128."""
    g = grid.geometry
    r0 = g.slant_range(grid.p[index])
    half = int(grid.half_aperture[index])
    lags = np.arange(half + 1)
    return np.exp(1j * np.pi * g.fm_rate(r0) * (lags / g.prf_hz) ** 2) / math.sqrt(2 * half + 1)


def _design(dt: float, poles: np.ndarray, half: int, gain: float = 1.0) -> np.ndarray:
    """Rows l = 0 .. half of gain dt exp(A_n dt l), plus the D column (l = 0 only, the skip: no gain):
    (half + 1, N + 1) complex128."""
    lags = np.arange(half + 1)[:, None]
    modes = gain * dt * np.exp(poles[None, :] * dt * lags)
    d_column = (lags == 0).astype(np.complex128)
    return np.concatenate([modes, d_column], axis=1)


def _tap_weights(half: int) -> np.ndarray:
    """Lag 0 counts once, every other lag twice (the causal and the anti-causal side)."""
    w = np.full(half + 1, 2.0)
    w[0] = 1.0
    return w


def fit_reference(
    grid: ApertureGrid, dt: np.ndarray, poles: np.ndarray, gain: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Ridge least squares of the reference functions over the grid: (C (N,) and D, as (N + 1,)), fit dB.

    dt: (G,) step size of each grid point; poles: (N,) continuous-time A_n; gain: (G,) the kernels' fixed
    scale per grid point (model.aperture_gain), the fit's design multiplied by it.
    """
    gain = np.ones(len(grid)) if gain is None else gain
    fit = np.unique(np.linspace(0, len(grid) - 1, min(FIT_POINTS, len(grid))).round().astype(int))
    rows, targets, weights = [], [], []
    for g in fit:
        half = int(grid.half_aperture[g])
        rows.append(_design(dt[g], poles, half, gain[g]))
        targets.append(reference_taps(grid, g))
        weights.append(np.sqrt(_tap_weights(half)))
    a = np.concatenate(rows) * np.concatenate(weights)[:, None]
    b = np.concatenate(targets) * np.concatenate(weights)
    norms = np.linalg.norm(a, axis=0).clip(1e-300)
    an = a / norms
    normal = an.conj().T @ an
    ridge = RIDGE * np.real(np.trace(normal)) / normal.shape[0]
    solution = np.linalg.solve(normal + ridge * np.eye(normal.shape[0]), an.conj().T @ b) / norms
    err = ref = 0.0
    for g in range(len(grid)):  # every grid point, fitted or not
        half = int(grid.half_aperture[g])
        w = _tap_weights(half)
        target = reference_taps(grid, g)
        err += float((w * np.abs(_design(dt[g], poles, half, gain[g]) @ solution - target) ** 2).sum())
        ref += float((w * np.abs(target) ** 2).sum())
    return solution, 10.0 * math.log10(max(err / ref, 1e-30))


@dataclass(frozen=True)
class ReferenceFit:
    """The matched-filter start of one geometry, grid and model size: the model-independent NumPy part."""

    dt0: float
    alpha: float
    omega: np.ndarray  # (groups * M,) mode frequencies, group j holding omega[j::groups]
    groups: int
    c: np.ndarray  # (groups, M) complex128 C of each group
    d: complex
    fit_db: float


@functools.lru_cache(maxsize=16)
def reference_fit(
    geometry: Geometry, points_per_aperture: int, model_dim: int, modes: int, aperture_gain: bool = False
) -> ReferenceFit:
    """The least squares of the module docstring, once per (geometry, grid, model_dim, modes, gain) in a process.

    Raises ConfigError (one line) when the model is too small to hold the reference function.
    """
    grid = ApertureGrid(geometry, points_per_aperture)
    dt0 = math.sqrt(geometry.fm_rate(geometry.mid_range())) / geometry.prf_hz
    dt = dt0 * np.exp(-0.5 * grid.rho)  # (G,)
    tau_top = float((grid.half_aperture * dt).max())
    needed = math.ceil(MODES_PER_TIME_BANDWIDTH * tau_top**2) + 2
    groups = min(model_dim, math.ceil(needed / modes))
    omega = np.linspace(0.0, FREQUENCY_MARGIN * 2 * math.pi * tau_top, groups * modes)  # (groups * M,)
    alpha = 0.5 * (omega[1] - omega[0]) if len(omega) > 1 else 1.0
    solution, fit_db = fit_reference(grid, dt, -alpha + 1j * omega, grid.amplitude if aperture_gain else None)
    if fit_db > TOO_SMALL_DB:
        raise ConfigError(
            f"model.state_dim: {groups} x {modes} modes fit the reference function only to "
            f"{fit_db:.1f} dB; the matched-filter start needs model_dim x state_dim/2 >= {needed}"
        )
    c = solution[:-1].reshape(modes, groups).T  # (groups, M): group j has poles j::groups
    for array in (omega, c):
        array.setflags(write=False)  # shared by every model this process builds
    return ReferenceFit(dt0, alpha, omega, groups, c, complex(solution[-1]), fit_db)


@torch.no_grad()
def initialise_matched_filter(model) -> float:
    """Set `model` (a SarSSM with an aperture grid) to the matched filter; returns the kernel fit in dB.

    Raises ConfigError (one line) when the model is too small to hold the reference function.
    """
    cfg = model.config
    convs = [layer.conv for layer in model.layers]
    grid = convs[0].grid
    if not isinstance(grid, ApertureGrid):
        raise ConfigError("model.init: matched_filter needs a range-conditioned model with a geometry")
    h, modes = cfg.model_dim, cfg.state_dim // 2
    fit = reference_fit(grid.geometry, cfg.range_points_per_aperture, h, modes, cfg.aperture_gain)
    group_of = np.arange(h) % fit.groups  # channel -> group
    share = np.bincount(group_of, minlength=fit.groups)  # channels per group: their kernels add up
    channel_omega = fit.omega.reshape(modes, fit.groups).T[group_of]  # (H, M)
    for conv in convs:
        _set_dynamics(conv, fit.alpha, _spread(channel_omega, conv.a_im.shape[1]), fit.dt0)
    c = fit.c[group_of] / share[group_of][:, None]  # (H, M)
    _first_layer_and_stream(model, c, fit.d)
    _start_later_layers(model)
    return fit.fit_db


def _spread(omega: np.ndarray, modes: int) -> np.ndarray:
    """`modes` frequencies per channel spread evenly over each channel's band of omega (H, M): (H, modes).

    A later layer with a smaller model.later_state_dim covers the first layer's band more sparsely."""
    if modes == omega.shape[1]:
        return omega
    return np.linspace(omega[:, 0], omega[:, -1], modes, axis=1)


def _set_dynamics(conv, alpha: float, omega: np.ndarray, dt0: float) -> None:
    """A = -alpha + j omega per channel (omega (H, M)), dt = dt0 (R0 / R_mid)^-1/2."""
    conv.a_log_re.fill_(math.log(alpha))
    conv.a_im.copy_(torch.tensor(omega, dtype=torch.float32))
    conv.log_dt.fill_(math.log(dt0))
    conv.dt_slope.fill_(-0.5)


def _first_layer_and_stream(model, c: np.ndarray, d_fit: complex) -> None:
    """The first layer's C (both directions: the reference is symmetric) and D, and the projections and
    mixing that write the line along v_raw and its focused version along v_foc (module docstring)."""
    h = model.config.model_dim
    first = model.layers[0].conv
    first.c.copy_(torch.view_as_real(torch.tensor(c, dtype=torch.complex64)).expand_as(first.c))
    roots = torch.exp(2j * math.pi * torch.arange(h) / h).to(torch.complex64)  # (H,)
    d = d_fit / h if h > 1 else d_fit - 1.0  # H = 1: the update replaces the line
    first.d.copy_(torch.view_as_real(torch.full((h,), d, dtype=torch.complex64)))
    model.input_proj.weight.copy_(torch.view_as_real(torch.full((h, 1), h**-0.5, dtype=torch.complex64)))
    mix = roots[:, None].expand(h, h) if h > 1 else torch.ones(1, 1, dtype=torch.complex64)  # (H_out, H_in)
    model.layers[0].mix.weight.copy_(torch.view_as_real(mix.contiguous()))
    read = roots.conj() / math.sqrt(h) if h > 1 else torch.ones(1, dtype=torch.complex64)  # conj(v_foc)
    model.output_proj.weight.copy_(torch.view_as_real(read[None, :].contiguous()))


def _start_later_layers(model) -> None:
    """Unit-energy kernels; gated layers behind a closed gate with full-scale mixing (gate.py), ungated
    ones as near-identity residual blocks."""
    for i, layer in enumerate(model.layers[1:], start=1):
        _unit_energy_c(layer.conv)
        gate = model.gates[str(i)] if str(i) in model.gates else None
        if gate is not None:
            gate.set_constant(0.0)
        else:
            layer.mix.weight.mul_(LATER_MIX_SCALE)


def _unit_energy_c(conv) -> None:
    """Scale a layer's random C so each channel's kernel has unit energy at the middle grid point."""
    mid = torch.tensor([len(conv.grid) // 2])
    k = conv.kernels(max(2, 2 * (conv.max_half or 1) + 2), mid)[0]  # (D, H, taps)
    energy = k.abs().pow(2).sum(dim=(0, 2)).clamp_min(1e-12)  # (H,)
    conv.c.mul_(energy.rsqrt()[None, :, None, None])
