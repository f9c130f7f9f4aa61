"""A Maya4-layout Sentinel-1 product (one Zarr group) read lazily, chunk by chunk, through a bounded cache.

Layout (the Maya4 data set's, read from its documentation and loader, nothing copied): a Zarr group per
product holding 2-D complex arrays per processing level, first axis azimuth (slow time), second range:
`raw`, `rc` (range compressed), `rcmc` (range-cell-migration corrected), `az` (azimuth focused); the
per-line L0 header records (`metadata`) and the orbit records (`ephemeris`) are group attributes, each
a list of records or a mapping whose `data` holds them. A product's columns are range bins of the input
level (`rcmc` or `rc`), the target is `az` (a product without it is unlabelled).

The cache holds decoded chunks, least recently used first out, never more than its byte budget; a read
touches only the chunks its window covers, so a product never needs to fit in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from .errors import DataError

INPUT_LEVELS = ("rcmc", "rc")
TARGET_LEVEL = "az"
LEVELS = ("raw", "rc", "rcmc", "az")


class ProductError(DataError):
    """A product that cannot give columns; one line naming the product, the level and the field."""


def records(attrs: dict, name: str) -> list[dict]:
    """The `metadata` or `ephemeris` records of a product's attributes ([] when absent): a list of records,
    {"data": records}, or {"columns": [...], "data": rows} (pandas' split orientation)."""
    value = attrs.get(name)
    if value is None:
        return []
    if isinstance(value, dict):
        rows = value.get("data", [])
        columns = value.get("columns")
        if columns is not None:
            return [dict(zip(columns, row)) for row in rows]
        value = rows
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ValueError(f"{name}: expected a list of records")
    return value


class ChunkCache:
    """Decoded chunks by (array key, chunk row, chunk column), evicted least recently used beyond max_bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._chunks: OrderedDict = OrderedDict()
        self.bytes = 0
        self.peak_bytes = 0
        self.reads = 0  # chunks decoded (misses)

    def get(self, key, load):
        chunk = self._chunks.get(key)
        if chunk is not None:
            self._chunks.move_to_end(key)
            return chunk
        chunk = load()
        self.reads += 1
        while self._chunks and self.bytes + chunk.nbytes > self.max_bytes:
            _, old = self._chunks.popitem(last=False)
            self.bytes -= old.nbytes
        if chunk.nbytes <= self.max_bytes:  # a chunk larger than the whole budget is used once, not kept
            self._chunks[key] = chunk
            self.bytes += chunk.nbytes
            self.peak_bytes = max(self.peak_bytes, self.bytes)
        return chunk


class Product:
    """One product's input level (and target level, when it has one), checked; windows read through a cache."""

    def __init__(self, path: str | Path, level: str = "rcmc"):
        import zarr

        if zarr.config.get("threading.max_workers") is None:  # unset: one decoding thread (reads go chunk by
            zarr.config.set({"threading.max_workers": 1})  # chunk; a pool adds a malloc arena per thread, ~40 MB)
        self.path, self.level = Path(path), level
        if level not in INPUT_LEVELS:
            raise ProductError(
                f"{self.path}: level {level!r} is not an input level (choose {' or '.join(INPUT_LEVELS)})"
            )
        if not self.path.exists():
            raise ProductError(f"{self.path}: product not found")
        try:
            group = zarr.open_group(str(self.path), mode="r")
            arrays = set(group.array_keys())
            self.attrs = dict(group.attrs)
        except Exception as err:
            raise ProductError(f"{self.path}: not a readable Zarr group ({type(err).__name__})") from None
        if level not in arrays:
            held = ", ".join(sorted(arrays & set(LEVELS))) or "no processing level"
            raise ProductError(f"{self.path}: no {level} level (it holds {held})")
        self.input = self._level(group, level)
        self.target = self._level(group, TARGET_LEVEL) if TARGET_LEVEL in arrays else None
        if self.target is not None and self.target.shape != self.input.shape:
            raise ProductError(
                f"{self.path}: {TARGET_LEVEL} has shape {self.target.shape}, {level} {self.input.shape}: "
                "the levels must cover the same lines and range bins"
            )
        for name in ("metadata", "ephemeris"):
            try:
                records(self.attrs, name)
            except ValueError as err:
                raise ProductError(f"{self.path}: {err}") from None

    def _level(self, group, name: str):
        arr = group[name]
        if len(arr.shape) != 2:
            raise ProductError(f"{self.path}: {name} has shape {tuple(arr.shape)}, expected (azimuth, range)")
        if np.dtype(arr.dtype).kind != "c":
            raise ProductError(f"{self.path}: {name} has dtype {arr.dtype}, expected complex64 or complex128")
        if min(arr.shape) < 1:
            raise ProductError(f"{self.path}: {name} is empty {tuple(arr.shape)}")
        return arr

    @property
    def shape(self) -> tuple[int, int]:
        """(azimuth lines A, range bins R)."""
        return tuple(self.input.shape)

    @property
    def labelled(self) -> bool:
        return self.target is not None

    def metadata(self) -> list[dict]:
        return records(self.attrs, "metadata")

    def ephemeris(self) -> list[dict]:
        return records(self.attrs, "ephemeris")

    def read(self, cache: ChunkCache, which: str, a0: int, a1: int, r0: int, r1: int) -> np.ndarray:
        """Lines [a0, a1) x range bins [r0, r1) of the input ("input") or target ("target") level as
        (a1 - a0, r1 - r0) complex64, assembled from cached chunks; NaN or Inf is a ProductError."""
        arr = self.input if which == "input" else self.target
        name = self.level if which == "input" else TARGET_LEVEL
        ch, cw = arr.chunks
        out = np.empty((a1 - a0, r1 - r0), dtype=np.complex64)
        for ci in range(a0 // ch, (a1 - 1) // ch + 1):
            for cj in range(r0 // cw, (r1 - 1) // cw + 1):
                chunk = cache.get(
                    (str(self.path), name, ci, cj),
                    lambda ci=ci, cj=cj: np.asarray(
                        arr[ci * ch : (ci + 1) * ch, cj * cw : (cj + 1) * cw], np.complex64
                    ),
                )
                sa0, sa1 = max(a0, ci * ch), min(a1, (ci + 1) * ch)
                sr0, sr1 = max(r0, cj * cw), min(r1, (cj + 1) * cw)
                out[sa0 - a0 : sa1 - a0, sr0 - r0 : sr1 - r0] = chunk[
                    sa0 - ci * ch : sa1 - ci * ch, sr0 - cj * cw : sr1 - cj * cw
                ]
        if not np.all(np.isfinite(out.view(np.float32))):
            bad = np.argwhere(~np.isfinite(out.view(np.float32).reshape(out.shape[0], -1)))[0]
            raise ProductError(
                f"{self.path}: {name} holds NaN or Inf (azimuth line {a0 + bad[0]}, range bin {r0 + bad[1] // 2})"
            )
        return out
