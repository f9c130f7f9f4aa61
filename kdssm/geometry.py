"""Acquisition geometry of DATA_CARD.md: the six numbers of a preset row and what follows from them.

Everything a focuser needs per column derives from the geometry and the column's positional
encoding p: slant range R0 = near + p (far - near), FM rate Ka = 2 V^2 / (wavelength R0), aperture
Na = round(0.886 wavelength R0 / (La V) PRF) made odd, reference filter, valid region. The data
presets and users' own columns (the `data` section's geometry fields) are both a `Geometry`; a
`Preset` adds a name and the column length L.

Functions take R0 or p as NumPy arrays or torch tensors alike (plain arithmetic), except where
noted. This module imports neither torch nor any framework: models and data build on it. The six
fields and their check are the config's (config/model.py: GEOMETRY_FIELDS, check_geometry), one
definition for the YAML sections and this type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config.base import ConfigError
from .config.model import GEOMETRY_FIELDS as FIELDS
from .config.model import check_geometry

ACQUISITION_FIELDS = FIELDS[:4]  # wavelength, velocity, PRF, antenna: all but the swath


class GeometryError(ValueError):
    """Geometry fields that cannot describe an acquisition; one line naming the field."""


def _checked(values: dict) -> None:
    """config.check_geometry's verdict as a GeometryError naming the field ("prf_hz: must be > 0, ...")."""
    try:
        check_geometry("geometry", values)
    except ConfigError as err:
        raise GeometryError(str(err).removeprefix("geometry.")) from None


@dataclass(frozen=True)
class Geometry:
    wavelength_m: float
    velocity_m_s: float
    prf_hz: float
    antenna_length_m: float
    slant_range_near_m: float
    slant_range_far_m: float

    def __post_init__(self):
        _checked({name: getattr(self, name) for name in FIELDS if getattr(self, name) is not None})  # None: missing

    @classmethod
    def from_dict(cls, data: dict) -> Geometry:
        return cls(**{k: data.get(k) for k in FIELDS})

    def to_dict(self) -> dict:
        return {k: float(getattr(self, k)) for k in FIELDS}

    def slant_range(self, p):
        """R0 (m) from the positional encoding p in [0, 1]."""
        return self.slant_range_near_m + p * (self.slant_range_far_m - self.slant_range_near_m)

    def mid_range(self) -> float:
        return 0.5 * (self.slant_range_near_m + self.slant_range_far_m)

    def fm_rate(self, r0):
        """Azimuth FM rate Ka = 2 V^2 / (wavelength R0), Hz/s."""
        return 2.0 * self.velocity_m_s**2 / (self.wavelength_m * r0)

    def aperture_time(self, r0):
        """Ta = 0.886 wavelength R0 / (La V) seconds."""
        return 0.886 * self.wavelength_m * r0 / (self.antenna_length_m * self.velocity_m_s)

    def aperture_samples(self, r0):
        """Na = round(Ta * PRF) (half to even), made odd by adding 1 when even.

        NumPy R0 (or a number) gives int64, a torch tensor gives int64 on its device: one rounding
        for the simulator, the valid region and the models' aperture windows.
        """
        if not hasattr(r0, "round"):
            r0 = np.asarray(r0, dtype=np.float64)
        na = (self.aperture_time(r0) * self.prf_hz).round()
        na = na + (na % 2 == 0)
        return na.long() if hasattr(na, "long") else np.asarray(na).astype(np.int64)

    def half_aperture(self, p):
        """(Na - 1) / 2 at positional encoding p: the samples an output needs on either side."""
        return (self.aperture_samples(self.slant_range(p)) - 1) // 2

    def aperture_range(self) -> tuple[int, int]:
        """(smallest, largest) Na over the swath."""
        na = self.aperture_samples(self.slant_range(np.array([0.0, 1.0])))
        return int(na[0]), int(na[1])

    def aperture_buckets(self) -> list[tuple[int, float, float]]:
        """(Na, p_low, p_high) for every aperture length the swath holds, in order of p.

        np.rint rounds x = Ta PRF to the nearest integer and even ones are bumped up, so the odd
        length n covers x in [n - 1.5, n + 0.5): an interval of p, since x is linear in R0.
        """
        lo, hi = self.aperture_range()
        per_metre = self.aperture_time(1.0) * self.prf_hz  # x = per_metre * R0
        span = self.slant_range_far_m - self.slant_range_near_m
        out = []
        for n in range(lo, hi + 1, 2):
            p_lo = ((n - 1.5) / per_metre - self.slant_range_near_m) / span
            p_hi = ((n + 0.5) / per_metre - self.slant_range_near_m) / span
            out.append((n, max(0.0, p_lo), min(1.0, p_hi)))
        return out

    def theoretical_irw(self, r0) -> float:
        """IRW in samples of a rectangular aperture: 0.886 PRF / (Ka Na / PRF)."""
        bandwidth = self.fm_rate(r0) * self.aperture_samples(r0) / self.prf_hz
        return float(np.mean(0.886 * self.prf_hz / bandwidth))


@dataclass(frozen=True)
class Preset(Geometry):
    """A data-card preset: a geometry, a name and the column length L."""

    name: str = ""
    length: int = 0

    def geometry(self) -> Geometry:
        return Geometry(**{k: getattr(self, k) for k in FIELDS})


PRESETS = {
    "s1": Preset(0.05546576, 7100.0, 1717.0, 12.3, 800e3, 950e3, name="s1", length=1000),
    "mini": Preset(0.05546576, 7100.0, 600.0, 40.0, 800e3, 950e3, name="mini", length=256),
}


def _as_geometry(geometry: Geometry | dict) -> Geometry:
    """A plain Geometry (a Preset's six numbers without its name and length) from a Geometry or a mapping."""
    return Geometry.from_dict(geometry.to_dict() if isinstance(geometry, Geometry) else geometry)


def preset_of(geometry: Geometry | dict | None) -> str | None:
    """The name of the preset whose geometry this is, else None."""
    if geometry is None:
        return None
    g = _as_geometry(geometry)
    return next((name for name, preset in PRESETS.items() if preset.geometry() == g), None)


def describe(geometry: Geometry | dict) -> str:
    """A geometry for a reader, in one phrase: "the s1 geometry (PRF 1717 Hz, antenna 12.3 m, ...)" when it
    is a preset's, else its six numbers."""
    g = _as_geometry(geometry)
    numbers = (
        f"PRF {g.prf_hz:g} Hz, antenna {g.antenna_length_m:g} m, wavelength {g.wavelength_m:g} m, "
        f"V {g.velocity_m_s:g} m/s, slant range {g.slant_range_near_m / 1e3:g}-{g.slant_range_far_m / 1e3:g} km"
    )
    name = preset_of(g)
    return f"the {name} geometry ({numbers})" if name else f"a geometry of {numbers}"


def get_preset(spec) -> Preset:
    """A Preset from its name, or the Preset itself (columns with their own geometry)."""
    if isinstance(spec, Preset):
        return spec
    try:
        return PRESETS[spec]
    except (KeyError, TypeError):
        raise ValueError(f"unknown preset {spec!r} (known: {', '.join(PRESETS)})") from None


def columns_of(geometry: Geometry, length: int, name: str = "custom") -> Preset:
    """The Preset describing columns of `length` samples acquired with `geometry`."""
    return Preset(**{k: getattr(geometry, k) for k in FIELDS}, name=name, length=length)
