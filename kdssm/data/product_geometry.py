"""The data card's six geometry fields from a Sentinel-1 product's per-line L0 metadata and ephemeris.

Field names and units are those of `sentinel1decoder`'s decoded packet headers (the Maya4 products'
`metadata` and `ephemeris` records); the formulas are the S1 space packet protocol's:

- PRF = 1 / PRI (PRI in seconds; a raw count of 1/F_REF ticks is recognised by its size and converted).
- range sampling rate fs = (L / M) 4 F_REF, L/M the decimation ratio of the `Range Decimation` code.
- slant range of range bin k: R_k = c/2 (Rank PRI + SWST + 320 / (8 F_REF)) + k c / (2 fs); the card's
  near and far are the first and the last range bin's.
- velocity: the effective (Doppler) velocity of a spherical Earth under the orbit,
  V = |v| sqrt(R_e / |r|), with |r| the platform's distance from the Earth's centre and R_e the WGS84
  ellipsoid's geocentric radius at the platform's latitude (averaged over the ephemeris records). It is
  what the card's Ka = 2 V^2 / (wavelength R0) needs; |v| itself is ~7 % larger in low orbit.
- wavelength = c / f0, f0 the product's `radar_frequency_hz` attribute, else Sentinel-1's 5.405 GHz;
  antenna length from the `antenna_length_m` attribute, else Sentinel-1's 12.3 m.

Every derived value says where it came from (`Derived.sources`), so a one-line notice can tell the user.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F_REF_HZ = 37.53472224e6  # the S1 instrument's reference frequency
SPEED_OF_LIGHT = 299792458.0
S1_FREQUENCY_HZ = 5.405e9
S1_ANTENNA_LENGTH_M = 12.3
SUPPRESSED_DELAY_S = 320 / (8 * F_REF_HZ)  # the S1 receive window's suppressed delay
WGS84_A, WGS84_B = 6378137.0, 6356752.3142
DECIMATION_RATIOS = {0: (3, 4), 1: (2, 3), 3: (5, 9), 4: (4, 9), 5: (3, 8), 6: (1, 3), 7: (1, 6), 8: (3, 7)}
DECIMATION_RATIOS |= {9: (5, 16), 10: (3, 26), 11: (4, 11)}

PRI, SWST, RANK, DECIMATION = "PRI", "SWST", "Rank", "Range Decimation"
POSITION = ("X-axis position ECEF", "Y-axis position ECEF", "Z-axis position ECEF")
VELOCITY = ("X-axis velocity ECEF", "Y-axis velocity ECEF", "Z-axis velocity ECEF")
SAME_ALONG_AZIMUTH = (PRI, SWST, RANK, DECIMATION)  # one product, one PRF and one receive window


class GeometryMissing(ValueError):
    """A field the derivation needs is absent or unusable; the message names it (no product name)."""


@dataclass(frozen=True)
class Derived:
    values: dict  # the six fields that could be derived
    slant_range_m: np.ndarray | None  # (R,) float64, per range bin; None when the window fields are missing
    sources: dict  # field -> where it came from, in words


def sampling_rate_hz(code: int) -> float:
    """fs (Hz) of a Range Decimation code."""
    if int(code) not in DECIMATION_RATIOS:
        raise GeometryMissing(f"{DECIMATION} = {code}: not a Sentinel-1 decimation code ({sorted(DECIMATION_RATIOS)})")
    up, down = DECIMATION_RATIOS[int(code)]
    return up / down * 4 * F_REF_HZ


def _column(records: list[dict], name: str, what: str) -> np.ndarray:
    """One field over all records as float64 (n,), checked present and finite."""
    if not records:
        raise GeometryMissing(f"{what}: no records")
    try:
        values = np.array([float(r[name]) for r in records], dtype=np.float64)
    except KeyError:
        raise GeometryMissing(f"{what}.{name}: missing") from None
    except (TypeError, ValueError):
        raise GeometryMissing(f"{what}.{name}: not a number") from None
    if not np.all(np.isfinite(values)):
        raise GeometryMissing(f"{what}.{name}: holds NaN or null")
    return values


def _constant(records: list[dict], name: str) -> float:
    values = _column(records, name, "metadata")
    if np.ptp(values) > 1e-9 * max(abs(values[0]), 1e-30):
        raise GeometryMissing(
            f"metadata.{name}: changes along azimuth ({values.min():g} to {values.max():g}); "
            "one product holds one PRF and one receive window"
        )
    return float(values[0])


def seconds(value: float) -> float:
    """A PRI or SWST in seconds: decoded values are (< 0.1 s); a raw count of 1/F_REF ticks is converted."""
    return value if value < 0.1 else value / F_REF_HZ


def effective_velocity(ephemeris: list[dict]) -> float:
    """V = |v| sqrt(R_e / |r|), averaged over the ephemeris records."""
    pos = np.stack([_column(ephemeris, n, "ephemeris") for n in POSITION], axis=1)  # (n, 3) m
    vel = np.stack([_column(ephemeris, n, "ephemeris") for n in VELOCITY], axis=1)  # (n, 3) m/s
    radius = np.linalg.norm(pos, axis=1)
    if np.any(radius < WGS84_B):
        raise GeometryMissing("ephemeris: positions inside the Earth (expected ECEF metres)")
    sin_lat = pos[:, 2] / radius
    cos_lat = np.sqrt(1.0 - sin_lat**2)
    a2, b2 = WGS84_A**2, WGS84_B**2
    earth = np.sqrt(((a2 * cos_lat) ** 2 + (b2 * sin_lat) ** 2) / ((WGS84_A * cos_lat) ** 2 + (WGS84_B * sin_lat) ** 2))
    return float(np.mean(np.linalg.norm(vel, axis=1) * np.sqrt(earth / radius)))


def platform_state(velocity_m_s: float, latitude_rad: float, altitude_m: float) -> tuple[np.ndarray, np.ndarray]:
    """An ECEF position (3,) and velocity (3,) whose effective velocity is `velocity_m_s` (the inverse of
    effective_velocity, for writing test products); the velocity points north-east along the orbit."""
    a2, b2 = WGS84_A**2, WGS84_B**2
    c, s = np.cos(latitude_rad), np.sin(latitude_rad)
    earth = np.sqrt(((a2 * c) ** 2 + (b2 * s) ** 2) / ((WGS84_A * c) ** 2 + (WGS84_B * s) ** 2))
    radius = earth + altitude_m
    position = radius * np.array([c, 0.0, s])
    speed = velocity_m_s * np.sqrt(radius / earth)
    direction = np.array([-s, 0.6, c])
    return position, speed * direction / np.linalg.norm(direction)


def derive(
    metadata: list[dict], ephemeris: list[dict], attrs: dict, range_bins: int, prf_hz: float | None = None
) -> tuple[Derived, dict]:
    """(what could be derived, {field: why not} for what could not); prf_hz: a PRF stated instead of the PRI
    (the receive window's Rank PRI term then uses it)."""
    values, sources, missing = {}, {}, {}
    slant = None
    try:
        pri = 1.0 / prf_hz if prf_hz else seconds(_constant(metadata, PRI))
        values["prf_hz"], sources["prf_hz"] = 1.0 / pri, "1/PRI"
        fs = sampling_rate_hz(_constant(metadata, DECIMATION))
        window = _constant(metadata, RANK) * pri + seconds(_constant(metadata, SWST)) + SUPPRESSED_DELAY_S
        slant = SPEED_OF_LIGHT / 2 * window + np.arange(range_bins) * SPEED_OF_LIGHT / (2 * fs)  # (R,) m
        values["slant_range_near_m"], values["slant_range_far_m"] = float(slant[0]), float(slant[-1])
        sources["slant_range_near_m"] = sources["slant_range_far_m"] = "SWST, Rank, PRI and Range Decimation"
    except GeometryMissing as err:
        for name in ("prf_hz", "slant_range_near_m", "slant_range_far_m"):
            if name not in values:
                missing[name] = str(err)
    try:
        values["velocity_m_s"], sources["velocity_m_s"] = effective_velocity(ephemeris), "the ephemeris"
    except GeometryMissing as err:
        missing["velocity_m_s"] = str(err)
    frequency = _attribute(attrs, "radar_frequency_hz")
    values["wavelength_m"] = SPEED_OF_LIGHT / (frequency or S1_FREQUENCY_HZ)
    sources["wavelength_m"] = "radar_frequency_hz" if frequency else "Sentinel-1's 5.405 GHz"
    antenna = _attribute(attrs, "antenna_length_m")
    values["antenna_length_m"] = antenna or S1_ANTENNA_LENGTH_M
    sources["antenna_length_m"] = "antenna_length_m" if antenna else "Sentinel-1's 12.3 m"
    return Derived(values, slant, sources), missing


def _attribute(attrs: dict, name: str) -> float | None:
    """A positive number the product states as an attribute, or None when it states none."""
    value = attrs.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise GeometryMissing(f"attribute {name} = {value!r}: expected a positive number")
    return float(value)


def line_records(prf_hz: float, slant_range_near_m: float, decimation: int, lines: int, range_bins: int) -> list[dict]:
    """Per-line decoded L0 header records stating this PRF and a receive window whose first range bin lies
    at `slant_range_near_m` (the pulses in flight as Rank, the rest as SWST; for writing test products)."""
    pri = 1.0 / prf_hz
    delay = 2 * slant_range_near_m / SPEED_OF_LIGHT - SUPPRESSED_DELAY_S
    rank = int(delay // pri)
    swst = delay - rank * pri
    return [
        {
            "Packet Data Length": 0,
            "Coarse Time": 1_400_000_000 + i // int(prf_hz),
            "Fine Time": (i % int(prf_hz)) / prf_hz,
            "PRI Count": i,
            PRI: pri,
            SWST: swst,
            RANK: rank,
            DECIMATION: int(decimation),
            "Swath Number": 1,
            "Number of Quads": (range_bins + 1) // 2,
        }
        for i in range(lines)
    ]
