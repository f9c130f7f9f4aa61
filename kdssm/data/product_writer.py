"""Synthetic Maya4-layout products (`kdssm scene --layout maya4`): the simulator's lines as a Sentinel-1
product, so the product reader is tested on the layout without anyone's data.

Per range bin, a data-card line of A azimuth samples (simulate.simulate_numpy): the noisy line becomes
`rcmc` (the card has no range migration, so `rc` is the same array, written only on request) and the
noise-free focused truth becomes `az`, both times `scale` (an instrument's units; stated as the
`column_scale` attribute unless asked not to). Point targets fall at the card's density (3 per L + 2 Na
samples, Na at mid-swath). Range bins are spaced by the range sampling rate of a Sentinel-1 decimation
code, starting at the geometry's near range, so the far range follows from the bin count. The metadata
records (one per line) state PRI, SWST, Rank and the decimation code; the ephemeris records (one per
1,000 lines) place the platform so that its effective velocity is the geometry's; the attributes carry
the radar frequency and antenna length. The reader derives the six fields back from these
(product_geometry.py). Chunks are Maya4's (square, min(512, A/4, R/4), at least 64),
Blosc zstd with bit shuffle, Zarr format 2; written into a hidden temporary and renamed when complete.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..files import swap_in
from ..geometry import Geometry, columns_of
from .product_geometry import SPEED_OF_LIGHT, line_records, platform_state, sampling_rate_hz
from .simulate import TARGETS_PER_COLUMN, simulate_numpy

DECIMATION = 10  # the coarsest S1 range sampling (17.3 MHz, 8.65 m): the widest swath for a bin count
EPHEMERIS_EVERY = 1000  # lines between ephemeris records
ALTITUDE_M = 693e3  # Sentinel-1's


def maya4_chunk(azimuth: int, range_bins: int) -> int:
    return max(64, min(512, azimuth // 4, range_bins // 4))


def written_geometry(geometry: Geometry, range_bins: int, decimation: int = DECIMATION) -> Geometry:
    """The six fields of a product of `range_bins` bins from `geometry`'s near range at the code's spacing."""
    spacing = SPEED_OF_LIGHT / (2 * sampling_rate_hz(decimation))
    far = geometry.slant_range_near_m + (range_bins - 1) * spacing
    return Geometry.from_dict({**geometry.to_dict(), "slant_range_far_m": far})


def write_product(
    path: str | Path,
    geometry: Geometry,
    length: int,
    azimuth: int,
    range_bins: int,
    seed: int,
    scale: float = 1.0,
    rc: bool = False,
    labelled: bool = True,
    decimation: int = DECIMATION,
    targets_per_column: float = TARGETS_PER_COLUMN,
    state_scale: bool = True,
) -> Geometry:
    """Write the product; returns the geometry its metadata states. targets_per_column: the Poisson mean per
    L + 2 Na samples (the card's 3; 0 for clutter alone); state_scale: write `column_scale` (else the reader
    estimates it)."""
    import numcodecs
    import zarr

    path = Path(path)
    stated = written_geometry(geometry, range_bins, decimation)
    slant = stated.slant_range_near_m + np.arange(range_bins) * (
        SPEED_OF_LIGHT / (2 * sampling_rate_hz(decimation))
    )  # (R,)
    p = (slant - stated.slant_range_near_m) / (stated.slant_range_far_m - stated.slant_range_near_m)
    na_mid = int(stated.aperture_samples(stated.mid_range()))
    per_line = targets_per_column / (length + 2 * na_mid) * azimuth  # Poisson mean of targets per range bin
    chunk = maya4_chunk(azimuth, range_bins)
    tmp = path.parent / f".{path.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        codec = numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE)
        names = ["rcmc"] + (["rc"] if rc else []) + (["az"] if labelled else [])
        arrays = {
            n: group.create_array(
                n, shape=(azimuth, range_bins), dtype="complex64", chunks=(chunk, chunk), compressors=codec
            )
            for n in names
        }
        columns = columns_of(stated, azimuth)
        for b, r0 in enumerate(range(0, range_bins, chunk)):  # one chunk column of range bins at a time
            r1 = min(range_bins, r0 + chunk)
            sim = simulate_numpy(columns, r1 - r0, np.random.SeedSequence([seed, b]), per_line, p=p[r0:r1])
            for name in names:
                lines = sim["truth"] if name == "az" else sim["raw"]  # (bins, A)
                arrays[name][:, r0:r1] = (lines.T * scale).astype(np.complex64)
        attrs = _attributes(stated, azimuth, range_bins, decimation, seed, scale, length)
        if state_scale:
            attrs["column_scale"] = float(scale)
        group.attrs.update(attrs)
        swap_in(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return stated


def _attributes(geometry: Geometry, azimuth: int, range_bins: int, decimation: int, seed: int, scale, length) -> dict:
    latitudes = np.radians(40.0) + np.arange(max(2, azimuth // EPHEMERIS_EVERY + 1)) * 1e-4
    ephemeris = []
    for k, lat in enumerate(latitudes):
        pos, vel = platform_state(geometry.velocity_m_s, float(lat), ALTITUDE_M)
        ephemeris.append(
            {
                "POD Solution Data Timestamp": 1_400_000_000 + k * EPHEMERIS_EVERY / geometry.prf_hz,
                **{f"{axis}-axis position ECEF": float(v) for axis, v in zip("XYZ", pos)},
                **{f"{axis}-axis velocity ECEF": float(v) for axis, v in zip("XYZ", vel)},
            }
        )
    return {
        "parent_product": "kdssm synthetic (data-card simulator)",
        "metadata": line_records(geometry.prf_hz, geometry.slant_range_near_m, decimation, azimuth, range_bins),
        "ephemeris": ephemeris,
        "radar_frequency_hz": SPEED_OF_LIGHT / geometry.wavelength_m,
        "antenna_length_m": geometry.antenna_length_m,
        "kdssm_simulation": {"seed": seed, "scale": scale, "column_length": length, **geometry.to_dict()},
    }
