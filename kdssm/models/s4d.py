"""Complex S4D layer: diagonal SSM convolution (optionally two-sided, optionally range-conditioned),
D skip, activation, dropout and output mixing.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .complex import ComplexActivation, ComplexDropout, ComplexLinear
from .s4d_kernel import KERNELS, circular_kernel, discretised_c

# Parameters of the SSM dynamics: their own learning rate and no weight decay.
SSM_PARAMETER_NAMES = ("log_dt", "a_log_re", "a_im", "dt_slope")


class S4DConv(nn.Module):
    """y = K * u + D u per channel, with K built from complex diagonal modes.

    With range conditioning each column's step size is dt exp(slope (p - 1/2)), p its positional
    encoding: the chirp rate a kernel represents scales with dt^2, as Ka scales with 1/R0. Kernels
    are built on `range_grid` values of p and interpolated linearly per column in the frequency
    domain (the convolution is linear in K, so this equals interpolating the kernels).
    """

    def __init__(self, channels: int, state_dim: int, *, bidirectional: bool = True,
                 range_conditioning: bool = False, range_grid: int = 8, dt_min: float = 1e-3,
                 dt_max: float = 1e-1, kernel: str = "fast"):
        super().__init__()
        modes = state_dim // 2
        self.kernel_fn = KERNELS[kernel]
        self.bidirectional = bidirectional
        self.grid = range_grid if range_conditioning else 1
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

    def grid_points(self, device) -> torch.Tensor:
        return torch.linspace(0.0, 1.0, self.grid, device=device)  # (G,)

    def kernels(self, length: int) -> torch.Tensor:
        """Time-domain kernels (G, directions, H, L) complex64 for the grid of slant ranges."""
        a = torch.complex(-torch.exp(self.a_log_re), self.a_im)  # (H, M) complex64
        log_dt = self.log_dt.unsqueeze(0)  # (1, H)
        if self.dt_slope is not None:
            log_dt = log_dt + self.dt_slope * (self.grid_points(a.device)[:, None] - 0.5)  # (G, H)
        dt_a = torch.exp(log_dt).unsqueeze(-1) * a  # (G, H, M) complex64
        c_tilde = discretised_c(torch.view_as_complex(self.c).unsqueeze(0), dt_a.unsqueeze(1), a)  # (G, D, H, M)
        # dt_a broadcasts over the directions: its exponentials are computed once for both.
        return self.kernel_fn(c_tilde, dt_a.unsqueeze(1), length)  # (G, D, H, L)

    def kernel_spectrum(self, length: int) -> torch.Tensor:
        """FFT of the circular two-sided kernels, (G, H, 2L) complex64; cached when no grad is needed.

        The cache key holds every parameter's version counter and storage, so an optimizer step,
        load_state_dict or a device move invalidates it.
        """
        params = list(self.parameters())
        cacheable = not torch.is_grad_enabled() or not any(p.requires_grad for p in params)
        key = (length, params[0].device)
        stamp = tuple((p._version, p.data_ptr()) for p in params)
        if cacheable:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        k = self.kernels(length)  # (G, D, H, L)
        spectrum = torch.fft.fft(circular_kernel(k[:, 0], k[:, 1] if self.bidirectional else None))
        if cacheable:
            self._cache[key] = (stamp, spectrum)
        return spectrum

    def forward(self, u: torch.Tensor, p: torch.Tensor | None = None) -> torch.Tensor:
        """u (B, L, H) complex64, p (B,) float32 positional encoding -> (B, L, H) complex64."""
        length = u.shape[1]
        with torch.autocast(device_type=u.device.type, enabled=False):  # FFTs stay fp32
            u = u.to(torch.complex64)
            spectrum = self.kernel_spectrum(length)  # (G, H, 2L)
            if self.grid > 1:
                if p is None:
                    raise ValueError("a range-conditioned S4D layer needs the positional encoding p")
                spectrum = torch.einsum("bg,ghf->bhf", interpolation_weights(p, self.grid), spectrum)
            else:
                spectrum = spectrum[0]  # (H, 2L), broadcast over the batch
            u_f = torch.fft.fft(u.transpose(1, 2), n=2 * length)  # (B, H, 2L)
            y = torch.fft.ifft(u_f * spectrum)[..., :length].transpose(1, 2)  # (B, L, H)
            return y + u * torch.view_as_complex(self.d)


def interpolation_weights(p: torch.Tensor, grid: int) -> torch.Tensor:
    """Linear interpolation weights of p in [0, 1] on `grid` equally spaced points: (B,) -> (B, G)."""
    pos = p.clamp(0.0, 1.0) * (grid - 1)  # (B,)
    lower = pos.floor().clamp(max=grid - 2)
    frac = (pos - lower).unsqueeze(-1)  # (B, 1)
    idx = lower.long()
    weights = torch.zeros(p.shape[0], grid, device=p.device, dtype=torch.complex64)
    weights.scatter_(1, idx[:, None], (1.0 - frac).to(torch.complex64))
    weights.scatter_(1, idx[:, None] + 1, frac.to(torch.complex64))
    return weights


class S4DBlock(nn.Module):
    """S4D convolution, split activation, complex dropout and output mixing (ComplexLinear)."""

    def __init__(self, channels: int, state_dim: int, *, activation: str = "identity",
                 dropout: float = 0.0, **conv_kwargs):
        super().__init__()
        self.conv = S4DConv(channels, state_dim, **conv_kwargs)
        self.activation = ComplexActivation(activation, channels)
        self.dropout = ComplexDropout(dropout)
        self.mix = ComplexLinear(channels, channels)

    def forward(self, u: torch.Tensor, p: torch.Tensor | None = None) -> torch.Tensor:
        return self.mix(self.dropout(self.activation(self.conv(u, p))))  # (B, L, H) complex64
