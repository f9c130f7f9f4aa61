"""Acquisition geometry of the data-card presets and the per-column quantities derived from it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Preset:
    name: str
    wavelength: float  # m
    velocity: float  # m/s
    prf: float  # Hz
    antenna_length: float  # m
    r_near: float  # m
    r_far: float  # m
    length: int  # L, azimuth samples per column

    def slant_range(self, p):
        """Slant range R0 (m) from the positional encoding p in [0, 1] (a number, array or tensor)."""
        return self.r_near + p * (self.r_far - self.r_near)

    def fm_rate(self, r0):
        """Azimuth FM rate Ka = 2 V^2 / (wavelength R0), Hz/s."""
        return 2.0 * self.velocity ** 2 / (self.wavelength * np.asarray(r0, dtype=np.float64))

    def aperture_time(self, r0):
        """Ta = 0.886 wavelength R0 / (La V) seconds; plain arithmetic, so NumPy or torch R0 alike."""
        return 0.886 * self.wavelength * r0 / (self.antenna_length * self.velocity)

    def aperture_samples(self, r0):
        """Na = round(Ta * PRF), made odd by adding 1 when even."""
        na = np.rint(self.aperture_time(np.asarray(r0, dtype=np.float64)) * self.prf).astype(np.int64)
        return na + (na % 2 == 0)

    def theoretical_irw(self, r0) -> float:
        """IRW in samples of a rectangular aperture: 0.886 PRF / (Ka Na / PRF)."""
        bandwidth = self.fm_rate(r0) * self.aperture_samples(r0) / self.prf
        return float(0.886 * self.prf / bandwidth)


PRESETS = {
    "s1": Preset("s1", 0.05546576, 7100.0, 1717.0, 12.3, 800e3, 950e3, 1000),
    "mini": Preset("mini", 0.05546576, 7100.0, 600.0, 40.0, 800e3, 950e3, 256),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})") from None
