"""`kdssm focus` on a Maya4-layout product: its input level read as a scene, the focused level written into
a copy of the product.

Reading: the product's `rcmc` (or `--level rc`) lines of range bins [start, stop), divided by the product's
scale (data/product_columns.py) so the model sees the data card's levels; geometry and slant ranges from the
product's metadata. A product's swath need only lie inside the model's (each range bin's p is checked), the
wavelength, velocity, PRF and antenna must equal the model's.

Writing: OUT (.zarr) starts as a byte-for-byte copy of the product; `focused` (and `matched_filter` with
--compare) are added beside `az`, shaped and chunked like the input level, in the product's units (times
the scale), and a `kdssm` subgroup holds what the scene layout keeps at the top (slant_range_m,
edge_samples, the geometry, precision, scale). Nothing else in the copy changes. It is built under a hidden
temporary name and renamed when complete, like every focus output.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..data.product_columns import ProductOptions, ProductSet, expand
from ..files import remove, swap_in
from ..geometry import Geometry
from .scene_io import SceneError, SceneReader, put_fields, temporary_of

FOCUS_GROUP = "kdssm"
CACHE_BYTES = 256 << 20
SCALE_LENGTH = 256  # column length of the scale's calibration (its median hardly depends on it)


def is_product(path: Path) -> bool:
    """A Zarr group in the Maya4 layout: an rcmc or rc level, or per-line metadata (not a kdssm scene's raw)."""
    if path.suffix != ".zarr" or not path.is_dir():
        return False
    try:
        import zarr

        group = zarr.open_group(str(path), mode="r")
        return bool({"rcmc", "rc"} & set(group.array_keys())) or "metadata" in group.attrs
    except Exception:
        return False


def open_scene(path: str | Path, level: str = "rcmc", scale: float | None = None):
    """The reader of a focus input: a Maya4-layout product (ProductScene) or a scene / column set."""
    return ProductScene(path, level, scale) if is_product(Path(path)) else SceneReader(path)


class ProductScene:
    """A product as focus's reader: lines of range bins (n, A) complex64 at the data card's scale."""

    columns = False
    partial_swath = True  # the product's swath may be narrower than the model's

    def __init__(self, path: str | Path, level: str = "rcmc", scale: float | None = None):
        self.path = Path(path)
        (product_path,) = expand(str(self.path))
        options = ProductOptions((product_path,), level, SCALE_LENGTH, cache_bytes=CACHE_BYTES, scale=scale)
        self.set = ProductSet(options, quiet=True)
        self.product = self.set.products[0]
        self.scale = self.set.scales[0]
        self.cache = self.set.cache  # one budget for the scale's windows and the lines focused
        self.data = self.product.input

    def geometry(self) -> Geometry:
        return self.set.geometry

    @property
    def shape(self) -> tuple[int, int]:
        return self.product.shape

    @property
    def range_bins(self) -> int:
        return self.shape[1]

    def slant_ranges(self, geometry: Geometry) -> np.ndarray:
        """The product's own slant ranges (R,), whatever geometry the caller focuses with."""
        return self.set.geometry.slant_range(self.set.p[0])

    @property
    def has_truth(self) -> bool:
        return self.product.labelled

    def read(self, start: int, stop: int) -> np.ndarray:
        lines = self.product.read(self.cache, "input", 0, self.shape[0], start, stop)  # (A, n)
        return np.ascontiguousarray(lines.T) / np.float32(self.scale)

    def truth(self, start: int, stop: int) -> np.ndarray:
        lines = self.product.read(self.cache, "target", 0, self.shape[0], start, stop)
        return np.ascontiguousarray(lines.T) / np.float32(self.scale)

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def check_product_output(scene: ProductScene, out: Path, names: list[str]) -> None:
    """Refuse an output a product's focus cannot be (not .zarr) or arrays the product already holds."""
    import zarr

    if Path(out).suffix != ".zarr":
        raise SceneError(f"{out}: a product's focus is written as .zarr (a copy of the product)")
    held = set(zarr.open_group(str(scene.path), mode="r").array_keys()) | {FOCUS_GROUP}
    clash = [name for name in names if name in held]
    if clash:
        raise SceneError(f"{scene.path}: already holds {clash[0]}; focus a product without it")


class ProductWriter:
    """focus's writer for a product: a copy of it plus the focused arrays and the `kdssm` subgroup."""

    columns = False

    def __init__(self, path: Path, scene: ProductScene, arrays: dict):
        import zarr

        self.path, self.scale = Path(path), scene.scale  # focus_file checked the output (check_product_output)
        self.tmp = temporary_of(self.path)
        remove(self.tmp)  # a killed run's leftover
        shutil.copytree(scene.path, self.tmp)
        self._group = zarr.open_group(str(self.tmp), mode="r+")
        level = scene.product.input
        self._arrays = {
            name: self._group.create_array(
                name, shape=shape, dtype=dtype, chunks=level.chunks, compressors=level.compressors or None
            )
            for name, (shape, dtype) in arrays.items()
        }
        self.fields: dict = {"scale": float(self.scale)}

    def write(self, name: str, start: int, stop: int, block: np.ndarray) -> None:
        """Range bins [start, stop): block (n, A) lines at the card's scale, stored in the product's units."""
        self._arrays[name][:, start:stop] = (block.T * np.float32(self.scale)).astype(np.complex64)

    def put(self, name: str, value) -> None:
        self.fields[name] = value

    def commit(self) -> None:
        put_fields(self._group.create_group(FOCUS_GROUP), self.fields)
        swap_in(self.tmp, self.path)

    def abort(self) -> None:
        remove(self.tmp)
