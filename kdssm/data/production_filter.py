"""The matched filter as a SAR engineer runs it: complex64 torch FFTs with each column's reference spectrum
cached, on CPU or CUDA. The explicit fast twin of `baseline.matched_filter` (NumPy, complex128, the
reference rebuilt and transformed for every column), which stays the scoring implementation; the two are
tested equal (tests/data/test_production_filter.py).

    y = IFFT( FFT(s, M) * R_p )[H : H + L],   R_p = FFT(conj(g_p) placed on -H..H, M)

g_p the data card's unit-energy reference at the column's slant range (positional encoding p), H the
largest half aperture of the swath, M = fast_length(L + 2H) the one transform length of every column. The
spectra are kept by p (models/spectrum_cache.py: a scene's range bins repeat theirs pass after pass, a
column set pays once per distinct p), at most `cache_mb` of them, oldest out; the last batch's stack whole.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..geometry import Geometry
from ..models.s4d_kernel import fast_length
from ..models.spectrum_cache import SpectrumCache
from .physics import aperture_taps


class ProductionFilter:
    """Focus (B, L) lines at positional encodings p (B,) -> (B, L) complex64; or data-card columns."""

    def __init__(self, geometry: Geometry, length: int, device: str | torch.device = "cpu", cache_mb: float = 256.0):
        self.geometry, self.length, self.device = geometry, int(length), torch.device(device)
        self.half = (int(geometry.aperture_range()[1]) - 1) // 2  # H
        self.nfft = fast_length(self.length + 2 * self.half)  # M
        self.cache = SpectrumCache(self._build, cache_mb)

    def _build(self, p: np.ndarray) -> torch.Tensor:
        """R_p of distinct p (n,) float64 -> (n, M) complex64 on the device."""
        r0 = self.geometry.slant_range(np.clip(p, 0.0, 1.0))
        na = self.geometry.aperture_samples(r0)
        taps, half = aperture_taps(self.geometry.fm_rate(r0), na, self.geometry.prf_hz)  # (n, 2 half + 1)
        reference = np.zeros((len(p), self.nfft), dtype=np.complex64)  # lag 0 at H, padded to M
        reference[:, self.half - half : self.half + half + 1] = np.conj(taps) / np.sqrt(na)[:, None]
        return torch.fft.fft(torch.from_numpy(reference).to(self.device))

    def spectra(self, p: np.ndarray) -> torch.Tensor:
        """R_p of every p (B,) as (B, M) complex64 on the device (kept by p: models/spectrum_cache.py)."""
        return self.cache.get(p)

    @torch.no_grad()
    def focus_lines(self, lines: torch.Tensor, p: np.ndarray) -> torch.Tensor:
        """lines (B, L) complex -> (B, L) complex64: each line focused with its own reference."""
        if lines.shape[1] != self.length:
            raise ValueError(f"the filter was built for lines of {self.length} samples, got {lines.shape[1]}")
        lines = lines.to(self.device, torch.complex64)
        # padded first: torch's own padding for fft(n=M) costs about as much as the transform
        spectrum = torch.fft.fft(F.pad(lines, (0, self.nfft - self.length))) * self.spectra(p)  # (B, M)
        return torch.fft.ifft(spectrum)[:, self.half : self.half + lines.shape[1]]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Data-card columns x (B, L, 2) -> y_hat (B, L, 1) complex64, like baseline.matched_filter."""
        p = x[..., 1].real.mean(dim=1).double().cpu().numpy().clip(0.0, 1.0)  # (B,)
        return self.focus_lines(x[..., 0], p)[..., None].to(x.device)
