"""Complex S4D layer: diagonal SSM convolution (optionally two-sided, optionally range-conditioned),
D skip, activation, dropout and output mixing.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..geometry import Geometry
from .complex import ComplexActivation, ComplexDropout, ComplexLinear
from .range_grid import build_grid
from .s4d_kernel import KERNELS, circular_kernel, discretised_c, fast_length

# Parameters of the SSM dynamics: their own learning rate and no weight decay.
SSM_PARAMETER_NAMES = ("log_dt", "a_log_re", "a_im", "dt_slope")


class S4DConv(nn.Module):
    """y = K_p * u + D u per channel, K_p built from complex diagonal modes for the column's range p.

    K_g[l] = w_g[l] dt_g sum_n C_n exp(dt_g A_n l) (s4d_kernel.py), causal and (bidirectional)
    anti-causal with its own C. With range conditioning the step size of grid point g is
    dt_g = exp(log_dt + slope rho_g) and each column reads its two grid kernels (range_grid.py);
    with a geometry, rho = log(R0 / R_mid) and w_g is the aperture window (|l| <= (Na_g - 1) / 2),
    without one rho = p - 1/2 and there is no window. Interpolating the spectra equals interpolating
    the kernels: the convolution is linear in K.
    """

    def __init__(
        self,
        channels: int,
        state_dim: int,
        *,
        bidirectional: bool = True,
        range_conditioning: bool = False,
        range_grid: int = 8,
        geometry: Geometry | None = None,
        points_per_aperture: int = 3,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        kernel: str = "fast",
        aperture_gain: bool = False,
    ):
        super().__init__()
        modes = state_dim // 2
        self.kernel_fn = KERNELS[kernel]
        self.bidirectional = bidirectional
        self.grid = build_grid(geometry, range_conditioning, range_grid, points_per_aperture)
        self.register_buffer("rho", torch.tensor(self.grid.rho, dtype=torch.float32), persistent=False)  # (G,)
        half = self.grid.half_aperture
        self.max_half = None if half is None else int(half.max())
        self.register_buffer("half_aperture", None if half is None else torch.tensor(half), persistent=False)
        gain = torch.tensor(self.grid.amplitude, dtype=torch.float32) if aperture_gain and half is not None else None
        self.register_buffer("gain", gain, persistent=False)  # (G,) model.aperture_gain, else None
        log_dt = torch.rand(channels) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)  # (H,)
        self.dt_slope = nn.Parameter(torch.zeros(channels)) if range_conditioning else None  # (H,)
        # S4D-Lin initialisation: A_n = -1/2 + j pi n.
        self.a_log_re = nn.Parameter(torch.full((channels, modes), math.log(0.5)))  # (H, M)
        self.a_im = nn.Parameter(math.pi * torch.arange(modes).float().repeat(channels, 1))  # (H, M)
        directions = 2 if bidirectional else 1
        self.c = nn.Parameter(torch.randn(directions, channels, modes, 2) * math.sqrt(0.5))  # real view
        self.d = nn.Parameter(torch.randn(channels, 2) * math.sqrt(0.5))  # real view of complex (H,)
        self._cache: dict = {}

    def step_sizes(self, index: torch.Tensor | None = None) -> torch.Tensor:
        """dt of the grid points `index` (all when None): (G, H) float32."""
        rho = self.rho if index is None else self.rho[index]  # (G,)
        log_dt = self.log_dt.unsqueeze(0)  # (1, H)
        if self.dt_slope is not None:
            log_dt = log_dt + self.dt_slope * rho[:, None]  # (G, H)
        return torch.exp(log_dt)

    def taps(self, length: int) -> int:
        """Lags on each side a kernel for lines of `length` samples has (all of them without a window)."""
        return length if self.max_half is None else min(length, self.max_half + 1)

    def fft_length(self, length: int) -> int:
        """Circular convolution length for lines of `length` samples: nothing wraps onto them."""
        return 2 * length if self.max_half is None else fast_length(length + self.taps(length) - 1)

    def kernel_taps(self, length: int, index: torch.Tensor | None = None) -> torch.Tensor:
        """The nonzero lags (G, directions, H, taps) complex64 of the grid points `index` (all when None)."""
        a = torch.complex(-torch.exp(self.a_log_re), self.a_im)  # (H, M) complex64
        dt = self.step_sizes(index)  # (G, H)
        dt_a = dt.unsqueeze(-1) * a  # (G, H, M) complex64
        c_tilde = discretised_c(torch.view_as_complex(self.c).unsqueeze(0), dt[:, None, :, None])  # (G, D, H, M)
        taps = self.taps(length)  # beyond the window: zero
        # dt_a broadcasts over the directions: its exponentials are computed once for both.
        k = self.kernel_fn(c_tilde, dt_a.unsqueeze(1), taps)  # (G, D, H, taps)
        if self.half_aperture is not None:
            half = self.half_aperture if index is None else self.half_aperture[index]  # (G,)
            inside = torch.arange(taps, device=k.device)[None, :] <= half[:, None]  # (G, taps) bool
            k = k * inside[:, None, None, :]
        if self.gain is not None:
            gain = self.gain if index is None else self.gain[index]  # (G,)
            k = k * gain[:, None, None, None]
        return k

    def kernels(self, length: int, index: torch.Tensor | None = None) -> torch.Tensor:
        """Time-domain kernels (G, directions, H, L) complex64 of the grid points `index` (all when None)."""
        k = self.kernel_taps(length, index)  # (G, D, H, taps)
        return nn.functional.pad(k, (0, length - k.shape[-1]))

    def kernel_spectrum(self, length: int, index: torch.Tensor | None = None) -> torch.Tensor:
        """FFT of the circular two-sided kernels of the grid points `index` (all when None), (G, H, N)
        complex64 with N = fft_length(L) (2L without a window, about L + Na / 2 with one), built from the
        parameters (differentiable). The inference implementation reads the cached rows of grid_spectra."""
        k = self.kernel_taps(length, index)  # (G, D, H, taps)
        n = self.fft_length(length)
        return torch.fft.fft(circular_kernel(k[:, 0], k[:, 1] if self.bidirectional else None, n))  # (G, H, N)

    def grid_spectra(self, length: int, needed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The grid's spectra for the inference implementation (kdssm/inference), cached and built on first
        need: (rows (R, H, N) complex64, slot (G,) int64 on the rows' device), rows[slot[g]] grid point g's
        spectrum (slot -1: not built yet). `needed` (grid indices, int64) are built if they are not yet, all
        points when None. A few columns (a short validation, a scene's first tiles, a scene's narrow range
        span) then build and hold the kernels they read, not the whole grid's (440 points a layer for the s1
        teacher: minutes on a CPU, and 1.9 GB a layer at 8,192-sample lines).

        The cache key holds every parameter's version counter and storage, so an optimizer step,
        load_state_dict or a device move starts a new table.
        """
        params = list(self.parameters())
        key = (length, params[0].device)
        stamp = tuple((p._version, p.data_ptr()) for p in params)
        hit = self._cache.get(key)
        if hit is None or hit["stamp"] != stamp:
            hit = {"stamp": stamp, "rows": None, "slot": torch.full((len(self.grid),), -1, dtype=torch.long)}
            self._cache[key] = hit
        slot = hit["slot"]  # (G,) int64, on the CPU
        if hit["rows"] is not None and bool((slot >= 0).all()):  # the usual case once a split has run
            return hit["rows"], hit["slot_device"]
        wanted = torch.arange(len(self.grid)) if needed is None else needed.cpu().unique()
        missing = wanted[slot[wanted] < 0]
        if len(missing):
            with torch.no_grad():
                rows = self.kernel_spectrum(length, missing.to(self.rho.device))  # (G_missing, H, N)
            start = 0 if hit["rows"] is None else hit["rows"].shape[0]
            hit["rows"] = rows if hit["rows"] is None else torch.cat([hit["rows"], rows])
            slot[missing] = torch.arange(start, start + len(missing))
            hit["slot_device"] = slot.to(rows.device)
        return hit["rows"], hit["slot_device"]

    def column_spectra(self, length: int, p: torch.Tensor | None) -> torch.Tensor:
        """Each column's kernel spectrum, (B, H, N) complex64 ((1, H, N) without range conditioning), for
        the autograd forward: a column reads its two grid kernels by a gather from kernels built for the
        grid points this batch touches only (the no-grad forward reads the cached grid instead)."""
        if len(self.grid) == 1:
            return self.kernel_spectrum(length)  # (1, H, N), broadcast over the batch
        idx, w = self.grid.locate(p)  # (B, 2) int64, (B, 2) float32
        used, idx = torch.unique(idx, return_inverse=True)
        spectrum = self.kernel_spectrum(length, used)  # (G_used, H, N)
        # one product with a (B, G_used) matrix of the two weights per row: forward and backward are
        # single matrix products, where two gathers cost five passes and two scatter-adds backward
        mix = torch.zeros(idx.shape[0], len(used), dtype=spectrum.real.dtype, device=spectrum.device)
        mix.scatter_add_(1, idx, w.to(mix.dtype))  # (B, G_used) float32
        return (mix.to(spectrum.dtype) @ spectrum.flatten(1)).unflatten(1, spectrum.shape[1:])  # (B, H, N)

    def forward(self, u: torch.Tensor, p: torch.Tensor | None = None) -> torch.Tensor:
        """u (B, L, H) complex64, p (B,) float32 positional encoding -> (B, L, H) complex64."""
        length = u.shape[1]
        with torch.autocast(device_type=u.device.type, enabled=False):  # FFTs stay fp32
            u = u.to(torch.complex64)
            if len(self.grid) > 1 and p is None:
                raise ValueError("a range-conditioned S4D layer needs the positional encoding p")
            spectrum = self.column_spectra(length, p)  # (B or 1, H, N)
            # padded first: torch's own padding for fft(n=N) costs about as much as the transform
            u_f = torch.fft.fft(nn.functional.pad(u.transpose(1, 2), (0, spectrum.shape[-1] - length)))  # (B, H, N)
            y = torch.fft.ifft(u_f * spectrum)[..., :length].transpose(1, 2)  # (B, L, H)
            return y + u * torch.view_as_complex(self.d)


class S4DBlock(nn.Module):
    """S4D convolution, activation, complex dropout and output mixing (ComplexLinear, no bias)."""

    def __init__(
        self, channels: int, state_dim: int, *, activation: str = "identity", dropout: float = 0.0, **conv_kwargs
    ):
        super().__init__()
        self.conv = S4DConv(channels, state_dim, **conv_kwargs)
        self.activation = ComplexActivation(activation, channels)
        self.dropout = ComplexDropout(dropout)
        self.mix = ComplexLinear(channels, channels, bias=False)

    def forward(self, u: torch.Tensor, p: torch.Tensor | None = None) -> torch.Tensor:
        return self.mix(self.dropout(self.activation(self.conv(u, p))))  # (B, L, H) complex64
