"""Azimuth signal model of DATA_CARD.md: the unit phase history and the focusing operator.

All functions are vectorised over columns, each with its own FM rate Ka and aperture Na.
"""

from __future__ import annotations

import numpy as np

from ..models.s4d_kernel import fast_length


def aperture_taps(ka: np.ndarray, na: np.ndarray, prf: float) -> tuple[np.ndarray, int]:
    """Phase history on integer offsets: h[c, m + half_max] = exp(-j pi Ka_c (m/PRF)^2), |m| <= (Na_c-1)/2.

    Returns the (C, 2*half_max+1) complex128 taps (zero outside each column's aperture) and half_max.
    """
    half = (na - 1) // 2  # (C,) int
    half_max = int(half.max())
    m = np.arange(-half_max, half_max + 1)  # (K,)
    phase = -np.pi * ka[:, None] * (m[None, :] / prf) ** 2  # (C, K) float64
    taps = np.exp(1j * phase)
    taps[np.abs(m)[None, :] > half[:, None]] = 0.0
    return taps, half_max


def convolve_same(signal: np.ndarray, taps: np.ndarray, half_max: int) -> np.ndarray:
    """out[c, j] = sum_m signal[c, j - m] * taps[c, m + half_max], signal zero outside its extent.

    signal: (C, E) complex, taps: (C, 2*half_max+1) complex -> (C, E) complex128.
    """
    e, k = signal.shape[1], taps.shape[1]
    nfft = fast_length(e + k - 1)
    full = np.fft.ifft(np.fft.fft(signal, nfft) * np.fft.fft(taps, nfft), nfft)  # (C, nfft)
    return full[:, half_max : half_max + e]


def focus(signal: np.ndarray, ka: np.ndarray, na: np.ndarray, prf: float) -> np.ndarray:
    """The data card's focusing operator y[i] = sum_m s[i+m] conj(g[m]), g the unit-energy reference.

    Because g[m] depends on m^2 it is symmetric, so the correlation is a convolution with conj(g).
    signal: (C, E) complex; samples outside the signal count as zero. Returns (C, E) complex128.
    """
    taps, half_max = aperture_taps(ka, na, prf)
    reference = np.conj(taps) / np.sqrt(na)[:, None]  # (C, K) conj(g)
    return convolve_same(signal, reference, half_max)


def phase_history(offsets: np.ndarray, ka: np.ndarray, na: np.ndarray, prf: float) -> np.ndarray:
    """c(t) = rect(|t| <= Na/PRF/2) exp(-j pi Ka t^2) at t = offsets / PRF (offsets in samples).

    offsets: (T, W) float, ka and na: (T,) -> (T, W) complex128.
    """
    t = offsets / prf
    inside = np.abs(offsets) <= na[:, None] / 2.0
    return np.where(inside, np.exp(-1j * np.pi * ka[:, None] * t**2), 0.0)
