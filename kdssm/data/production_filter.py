"""The matched filter as a SAR engineer runs it: complex64 torch FFTs with each column's reference spectrum
cached, on CPU or CUDA. The explicit fast twin of `baseline.matched_filter` (NumPy, complex128, the
reference rebuilt and transformed for every column), which stays the scoring implementation; the two are
tested equal (tests/data/test_production_filter.py).

    y = IFFT( FFT(s, M) * R_p )[H : H + L],   R_p = FFT(conj(g_p) placed on -H..H, M)

g_p the data card's unit-energy reference at the column's slant range (positional encoding p), H the
largest half aperture of the swath, M = fast_length(L + 2H) the one transform length of every column. The
spectra are kept by p (a scene's range bins repeat theirs batch after batch; a column set pays once per
distinct p), at most `max_spectra` of them, oldest out; the last batch's stack is kept whole.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from ..geometry import Geometry
from ..models.s4d_kernel import fast_length
from .physics import aperture_taps


class ProductionFilter:
    """Focus (B, L) lines at positional encodings p (B,) -> (B, L) complex64; or data-card columns."""

    def __init__(self, geometry: Geometry, length: int, device: str | torch.device = "cpu", max_spectra: int = 65536):
        self.geometry, self.length, self.device = geometry, int(length), torch.device(device)
        self.half = (int(geometry.aperture_range()[1]) - 1) // 2  # H
        self.nfft = fast_length(self.length + 2 * self.half)  # M
        self.max_spectra = max_spectra
        self._spectra: OrderedDict[float, torch.Tensor] = OrderedDict()
        self._batch: tuple[bytes, torch.Tensor] | None = None  # the last batch's p and stacked spectra

    def spectra(self, p: np.ndarray) -> torch.Tensor:
        """R_p of every p (B,) as (B, M) complex64 on the device, built once per distinct p; a batch of the
        same p as the last one (a scene's range bins, block after block along azimuth) reuses its stack."""
        p = np.ascontiguousarray(p, dtype=np.float64)
        if self._batch is not None and self._batch[0] == p.tobytes():
            return self._batch[1]
        keys = [float(v) for v in p]
        missing = sorted({k for k in keys if k not in self._spectra})
        if missing:
            r0 = self.geometry.slant_range(np.clip(np.array(missing), 0.0, 1.0))
            na = self.geometry.aperture_samples(r0)
            taps, half = aperture_taps(self.geometry.fm_rate(r0), na, self.geometry.prf_hz)  # (n, 2 half + 1)
            reference = np.zeros((len(missing), 2 * self.half + 1), dtype=np.complex128)
            reference[:, self.half - half : self.half + half + 1] = np.conj(taps) / np.sqrt(na)[:, None]
            spectra = torch.fft.fft(torch.from_numpy(reference.astype(np.complex64)).to(self.device), n=self.nfft)
            for key, spectrum in zip(missing, spectra):
                self._spectra[key] = spectrum
            while len(self._spectra) > self.max_spectra:
                self._spectra.popitem(last=False)
        stacked = torch.stack([self._spectra[k] for k in keys])
        self._batch = (p.tobytes(), stacked)
        return stacked

    @torch.no_grad()
    def focus_lines(self, lines: torch.Tensor, p: np.ndarray) -> torch.Tensor:
        """lines (B, L) complex -> (B, L) complex64: each line focused with its own reference."""
        if lines.shape[1] != self.length:
            raise ValueError(f"the filter was built for lines of {self.length} samples, got {lines.shape[1]}")
        lines = lines.to(self.device, torch.complex64)
        spectrum = torch.fft.fft(lines, n=self.nfft) * self.spectra(p)  # (B, M)
        return torch.fft.ifft(spectrum)[:, self.half : self.half + lines.shape[1]]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Data-card columns x (B, L, 2) -> y_hat (B, L, 1) complex64, like baseline.matched_filter."""
        p = x[..., 1].real.mean(dim=1).double().cpu().numpy().clip(0.0, 1.0)  # (B,)
        return self.focus_lines(x[..., 0], p)[..., None].to(x.device)
