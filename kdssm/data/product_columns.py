"""Data-card columns from Maya4-layout products: geometry, scale, tiles, splits by azimuth blocks, reads.

- Geometry: each product's six fields derived from its metadata (product_geometry.py); fields stated in
  the config override, one at a time. Several products must agree on wavelength, velocity, PRF and antenna;
  the swath spans them all (near = the nearest range bin of any, far = the farthest), so p = (R0 - near) /
  (far - near) per range bin. A one-line notice says where every field came from.
- Scale: the data card's columns are scaled so that the raw clutter has rms 1. A product's scale s is,
  first found: `data.product_scale`; the product's own `column_scale` attribute (a calibration it states;
  the synthetic products do); else estimated on the focused level (`az`, else the matched filter of the
  input) as sqrt(median |focused|^2 / kappa), kappa the same median over noise-free clutter-only columns of
  the simulator at this geometry. The estimate is the clutter's level where distributed clutter fills the
  scene (a real product); on the card's own scenes, whose bright targets' sidelobes lie above the clutter
  almost everywhere, it reads high (x1.5 in amplitude at mini, README). Columns are x / s and y / s; s is
  kept to put outputs back into the product's units.
- Tiles: range bin r, azimuth lines [a0, a0 + L), a0 = k L. Splits: each product's tiles form
  `product_blocks` runs along azimuth, dealt to train / validation / test from (val_seed, test_seed) in
  proportion to the fractions (at least one block each); where two neighbouring blocks belong to different
  splits, tiles are dropped until the gap is at least one full aperture, so no point target's echo lies
  in two splits. A split's columns are a draw of `*_size` of its tiles x range bins (seeded, all if fewer).
- Reads: columns grouped by (product, tile, chunk of range bins) so each window is read once; every read
  goes through one ChunkCache of `product_cache_mb`.
"""

from __future__ import annotations

import functools
import glob
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..geometry import ACQUISITION_FIELDS, FIELDS, Geometry, GeometryError, columns_of
from .product import INPUT_LEVELS, ChunkCache, Product, ProductError
from .product_geometry import GeometryMissing, derive
from .scene import matched_filter_lines
from .simulate import simulate_numpy

SPLIT_STREAM = 4211  # the first seed word of the block assignment
SCALE_GRID = 4  # chunk-sized windows per axis the scale is estimated on: up to 16, spread over the product
SCALE_CALIBRATION_COLUMNS = 64
MIN_BLOCK_TILES = 4  # tiles an azimuth block holds at least (one may go to the gap between splits)


def expand(spec: str) -> list[Path]:
    """Product paths from "a.zarr,b/*.zarr,folder": comma-separated paths or globs; a folder that is not
    itself a Zarr group gives the Zarr groups inside it. Sorted, without repeats."""
    paths: list[Path] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        matches = sorted(glob.glob(part)) if glob.has_magic(part) else [part]
        if not matches:
            raise ProductError(f"{part}: no product matches")
        for m in map(Path, matches):
            if m.is_dir() and not _is_group(m):
                inner = sorted(c for c in m.iterdir() if _is_group(c))
                if not inner:
                    raise ProductError(f"{m}: neither a Zarr product nor a folder of them")
                paths.extend(inner)
            else:
                paths.append(m)
    if not paths:
        raise ProductError(f"data.products: {spec!r} names no product")
    return list(dict.fromkeys(paths))


def _is_group(path: Path) -> bool:
    """A Zarr group's folder (format 2 or 3)."""
    return (path / ".zgroup").is_file() or (path / "zarr.json").is_file()


def product_geometry(product: Product, stated: dict) -> tuple[dict, np.ndarray, dict]:
    """(six fields, slant range per range bin (R,), {field: source}) of one product, stated fields first."""
    try:
        derived, missing = derive(
            product.metadata(), product.ephemeris(), product.attrs, product.shape[1], stated.get("prf_hz")
        )
    except GeometryMissing as err:
        raise ProductError(f"{product.path}: {err}") from None
    values = {**derived.values, **stated}
    sources = {**derived.sources, **dict.fromkeys(stated, "the config")}
    absent = [f for f in FIELDS if f not in values]
    if absent:
        raise ProductError(
            f"{product.path}: {missing[absent[0]]}; the geometry needs {absent[0]} (state it as data.{absent[0]})"
        )
    if derived.slant_range_m is not None and not {"slant_range_near_m", "slant_range_far_m"} & stated.keys():
        slant = derived.slant_range_m
    else:
        slant = np.linspace(values["slant_range_near_m"], values["slant_range_far_m"], product.shape[1])
    return values, slant, sources


@dataclass(frozen=True)
class ProductOptions:
    paths: tuple[Path, ...]
    level: str = "rcmc"
    length: int = 256
    stated: tuple = ()  # ((field, value), ...) given in the config
    cache_bytes: int = 256 << 20
    scale: float | None = None
    blocks: int = 10
    val_fraction: float = 0.1
    test_fraction: float = 0.1


class ProductSet:
    """Products read as data-card columns (module docstring): geometry, p per range bin, scales, splits."""

    def __init__(self, options: ProductOptions, quiet: bool = False):
        self.options = options
        if options.level not in INPUT_LEVELS:
            raise ProductError(f"data.product_level: {options.level!r} (choose {' or '.join(INPUT_LEVELS)})")
        self.products = [Product(p, options.level) for p in options.paths]
        self.cache = ChunkCache(options.cache_bytes)
        self.geometry, self.p, sources = self._geometry(dict(options.stated))
        self.scales, how = zip(*(self._scale(i) for i in range(len(self.products))))
        if not quiet:
            said = ", ".join(f"{k} {getattr(self.geometry, k):.7g} ({sources[k]})" for k in FIELDS)
            scale = ", ".join(dict.fromkeys(how))
            bare = sum(not p.labelled for p in self.products)
            unlabelled = (
                f", {bare} without az (unlabelled columns: distillation's data.unlabelled_size)" if bare else ""
            )
            print(
                f"kdssm: {len(self.products)} product(s){unlabelled}, {options.level} -> az: geometry {said}; "
                f"scale {', '.join(f'{s:.4g}' for s in self.scales)} ({scale})",
                file=sys.stderr,
            )

    def _geometry(self, stated: dict) -> tuple[Geometry, list[np.ndarray], dict]:
        first, slants, sources = None, [], {}
        for product in self.products:
            values, slant, sources = product_geometry(product, stated)
            if first is None:
                first = values
            for key in ACQUISITION_FIELDS:
                if abs(values[key] - first[key]) > 1e-6 * abs(first[key]):
                    raise ProductError(
                        f"{product.path}: {key} = {values[key]:g}, the first product's is {first[key]:g}: "
                        "products trained together share one acquisition geometry"
                    )
            slants.append(slant)
        near = min(float(s.min()) for s in slants)
        far = max(float(s.max()) for s in slants)
        if "slant_range_near_m" in stated:
            near = stated["slant_range_near_m"]
        if "slant_range_far_m" in stated:
            far = stated["slant_range_far_m"]
        try:
            geometry = Geometry.from_dict({**first, "slant_range_near_m": near, "slant_range_far_m": far})
        except GeometryError as err:
            raise ProductError(f"{self.products[0].path}: geometry {err}") from None
        p = [(s - near) / (far - near) for s in slants]
        for product, pp in zip(self.products, p):
            if pp.min() < -1e-9 or pp.max() > 1 + 1e-9:
                raise ProductError(f"{product.path}: range bins outside the stated swath [{near:g}, {far:g}] m")
        return geometry, [np.clip(pp, 0.0, 1.0) for pp in p], sources

    def _scale(self, i: int) -> tuple[float, str]:
        """(s, where it came from) of product i (module docstring)."""
        product = self.products[i]
        if self.options.scale is not None:
            return float(self.options.scale), "data.product_scale"
        stated = product.attrs.get("column_scale")
        if stated is not None:
            if not (isinstance(stated, (int, float)) and np.isfinite(stated) and stated > 0):
                raise ProductError(f"{product.path}: column_scale = {stated!r}, expected a positive number")
            return float(stated), "the product's column_scale"
        return self.estimate_scale(i), f"estimated on {'az' if product.labelled else 'the filter of ' + product.level}"

    def estimate_scale(self, i: int) -> float:
        """s of product i estimated on up to SCALE_GRID^2 chunk windows spread over it (module docstring)."""
        product = self.products[i]
        arr = product.target if product.labelled else product.input
        (a, r), (ch, cw) = product.shape, arr.chunks
        guard = int(self.geometry.aperture_range()[1])
        rows = np.unique(np.linspace(0, (a - 1) // ch, SCALE_GRID).astype(int))
        cols = np.unique(np.linspace(0, (r - 1) // cw, SCALE_GRID).astype(int))
        powers = []
        for ci in rows:
            for cj in cols:
                a0, r0 = ci * ch, cj * cw
                a1, r1 = min(a, a0 + ch), min(r, r0 + cw)
                if product.labelled:
                    block = product.read(self.cache, "target", a0, a1, r0, r1)  # (lines, bins)
                else:  # the filter on the window's lines and one aperture either side of them
                    lo, hi = max(0, a0 - guard), min(a, a1 + guard)
                    lines = product.read(self.cache, "input", lo, hi, r0, r1).T  # (bins, hi - lo)
                    block = matched_filter_lines(lines, self.p[i][r0:r1], self.geometry).T[a0 - lo : a1 - lo]
                powers.append(np.abs(block.ravel()) ** 2)
        median = float(np.median(np.concatenate(powers)))
        if not median > 0:
            raise ProductError(f"{product.path}: {'az' if product.labelled else product.level} is zero where sampled")
        return float(np.sqrt(median / clutter_median(self.geometry, self.options.length)))

    # --- tiles and splits -------------------------------------------------------------------------------
    def tile_starts(self, i: int) -> np.ndarray:
        return np.arange(self.products[i].shape[0] // self.options.length) * self.options.length

    def unlabelled_tiles(self) -> list[np.ndarray]:
        """Per product, the tile starts of its unlabelled columns: every tile of a product without az."""
        return [self.tile_starts(i)[:0] if p.labelled else self.tile_starts(i) for i, p in enumerate(self.products)]

    def split_tiles(self, val_seed: int, test_seed: int) -> dict[str, list[np.ndarray]]:
        """{"train"/"val"/"test": per product, the tile starts a0 (n_tiles,) of that split (none of a product
        without az)}."""
        o = self.options
        guard = int(self.geometry.aperture_range()[1])
        out = {"train": [], "val": [], "test": []}
        for i, product in enumerate(self.products):
            starts = self.tile_starts(i)
            if not product.labelled:  # its columns are unlabelled training columns, in no split
                for which in out:
                    out[which].append(starts[:0])
                continue
            n = len(starts)
            blocks = min(o.blocks, n // MIN_BLOCK_TILES)
            n_val = max(1, round(blocks * o.val_fraction))
            n_test = max(1, round(blocks * o.test_fraction))
            if blocks - n_val - n_test < 1:
                raise ProductError(
                    f"{product.path}: {n} tiles of {o.length} lines make {blocks} azimuth blocks of at least "
                    f"{MIN_BLOCK_TILES} tiles, too few for train, validation and test (a longer product)"
                )
            rng = np.random.default_rng((SPLIT_STREAM, val_seed, test_seed, i))
            owner = np.array(["train"] * (blocks - n_val - n_test) + ["val"] * n_val + ["test"] * n_test)
            owner = owner[rng.permutation(blocks)]
            edges = (np.arange(blocks + 1) * n) // blocks
            of_tile = np.repeat(owner, np.diff(edges))  # (n,)
            keep = np.ones(n, dtype=bool)
            drop = -(-guard // o.length)  # ceil(one aperture / L) tiles
            for b in range(1, blocks):
                if owner[b] == owner[b - 1]:
                    continue
                if owner[b] != "train" and owner[b - 1] == "train":  # the gap is taken from the training side
                    keep[max(edges[b - 1], edges[b] - drop) : edges[b]] = False
                else:
                    keep[edges[b] : min(edges[b] + drop, edges[b + 1])] = False
            for which in out:
                out[which].append(starts[keep & (of_tile == which)])
        return out

    def draw(self, tiles: list[np.ndarray], size: int, seed: int) -> np.ndarray:
        """size (or all, if fewer) columns of these tiles: (n, 3) int64 (product, a0, range bin), seeded."""
        pools = []
        for i, starts in enumerate(tiles):
            bins = self.products[i].shape[1]
            a0, r = np.meshgrid(starts, np.arange(bins), indexing="ij")
            pools.append(np.stack([np.full(a0.size, i), a0.ravel(), r.ravel()], axis=1))
        pool = np.concatenate(pools) if pools else np.zeros((0, 3), dtype=np.int64)
        if len(pool) == 0:
            raise ProductError(f"{self.products[0].path}: no tile of {self.options.length} lines in this split")
        pick = np.random.default_rng(seed).permutation(len(pool))[: min(size, len(pool))]
        return pool[pick].astype(np.int64)

    # --- reads --------------------------------------------------------------------------------------------
    def read_columns(self, index: np.ndarray, labelled: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Columns (n, 3) (product, a0, range bin) as the data card's x (n, L, 2) and y (n, L, 1) complex64
        (y None unlabelled), in index's order, scaled by each product's s."""
        n, length = len(index), self.options.length
        x = np.empty((n, length, 2), dtype=np.complex64)
        y = np.empty((n, length, 1), dtype=np.complex64) if labelled else None
        order = np.lexsort((index[:, 2], index[:, 1], index[:, 0]))  # product, tile, range bin
        groups = _runs(index[order], [self.products[i].input.chunks[1] for i in range(len(self.products))])
        for rows in groups:
            members = order[rows]
            i, a0 = int(index[members[0], 0]), int(index[members[0], 1])
            product, bins = self.products[i], index[members, 2]
            r0, r1 = int(bins.min()), int(bins.max()) + 1
            scale = self.scales[i]
            window = product.read(self.cache, "input", a0, a0 + length, r0, r1)  # (L, r1 - r0)
            x[members, :, 0] = window[:, bins - r0].T / scale
            x[members, :, 1] = self.p[i][bins][:, None]
            if labelled:
                if not product.labelled:
                    raise ProductError(f"{product.path}: no az level, so its columns carry no target")
                target = product.read(self.cache, "target", a0, a0 + length, r0, r1)
                y[members, :, 0] = target[:, bins - r0].T / scale
        return torch.from_numpy(x), None if y is None else torch.from_numpy(y)


def _runs(sorted_index: np.ndarray, chunk_widths: list[int]) -> list[np.ndarray]:
    """Positions in a (product, a0, r)-sorted index grouped by (product, a0, chunk of r)."""
    if len(sorted_index) == 0:
        return []
    widths = np.array(chunk_widths)[sorted_index[:, 0]]
    key = np.stack([sorted_index[:, 0], sorted_index[:, 1], sorted_index[:, 2] // widths], axis=1)
    change = np.flatnonzero(np.any(np.diff(key, axis=0) != 0, axis=1)) + 1
    return np.split(np.arange(len(sorted_index)), change)


@functools.lru_cache(maxsize=8)
def clutter_median(geometry: Geometry, length: int) -> float:
    """median |y|^2 of noise-free focused clutter-only columns of the simulator at this geometry (once per
    geometry: every product of a set shares it)."""
    sim = simulate_numpy(columns_of(geometry, length), SCALE_CALIBRATION_COLUMNS, 0, 0.0)
    return float(np.median(np.abs(sim["truth"]) ** 2))


class ProductColumns(torch.utils.data.Dataset):
    """Random access to a split's columns, each read on demand through the set's bounded cache (x, y)."""

    def __init__(self, products: ProductSet, index: np.ndarray, labelled: bool = True):
        self.products, self.index, self.labelled = products, index, labelled

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int):
        x, y = self.products.read_columns(self.index[k : k + 1], self.labelled)
        return (x[0], y[0]) if self.labelled else (x[0],)
