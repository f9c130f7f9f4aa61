"""Reading scenes and column sets from .npz or Zarr, checked; writing focused ones atomically.

Input (DATA_CARD.md, "Columns and scenes from elsewhere"), in an .npz or a Zarr group:
- a scene: `raw` complex (azimuth samples A, range bins R), and `slant_range_m` (R,) in metres, or
  the geometry's `slant_range_near_m` / `slant_range_far_m` (range bins spread evenly over them);
- or columns: `x` complex (N, L, 2) as the data card's tensors (the positional encoding inside);
- optionally the geometry: the six fields of a preset row (Zarr: arrays or group attributes) or
  `preset` (a preset's name). A scene that states one must match the model's.
Zarr inputs are read a slice of range bins at a time, so a scene larger than memory streams.

Output (same layout, the format chosen by OUT's suffix): `focused` (A, R) complex64 (columns:
`y_hat` (N, L, 1)), `slant_range_m`, the geometry fields, `edge_samples` (R,): the first and last
edge_samples[r] samples of range bin r have an aperture cut by the scene's ends (the data card's
valid region excludes them), and `matched_filter` beside `focused` with --compare. It is written
under a hidden temporary name beside OUT and renamed when complete, so OUT is never partial; a
temporary left by a killed run is removed by the next one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..files import input_clash, remove, swap_in, unwritable_reason
from ..geometry import ACQUISITION_FIELDS, FIELDS, Geometry, GeometryError, describe, get_preset
from .errors import DeployError

SUFFIXES = (".npz", ".zarr")


class SceneError(DeployError):
    """A scene or output that cannot be used; one line naming the file and the field."""


def _suffix(path: Path, role: str) -> str:
    if path.suffix not in SUFFIXES:
        raise SceneError(f"{path}: the {role} must end in .npz or .zarr")
    return path.suffix


class SceneReader:
    """A scene (`raw`) or column set (`x`) on disk: shape, geometry, slices of range bins."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        kind = _suffix(self.path, "input")
        if not self.path.exists():
            raise SceneError(f"{self.path}: input not found")
        try:
            if kind == ".npz":
                self._store = dict(np.load(self.path, allow_pickle=False))
                self._attrs = {}
            else:
                import zarr

                group = zarr.open_group(str(self.path), mode="r")
                self._store = {name: group[name] for name in group.array_keys()}
                self._attrs = dict(group.attrs)
        except SceneError:
            raise
        except Exception as err:
            raise SceneError(f"{self.path}: not a readable {kind} scene ({type(err).__name__})") from None
        if "raw" in self._store and "x" in self._store:
            raise SceneError(f"{self.path}: holds both raw (a scene) and x (columns); keep one")
        self.columns = "x" in self._store
        name = "x" if self.columns else "raw"
        if name not in self._store:
            raise SceneError(f"{self.path}: no raw (a scene, azimuth x range bins) and no x (columns)")
        self.data = self._store[name]
        want = 3 if self.columns else 2
        if len(self.data.shape) != want or (self.columns and self.data.shape[-1] != 2):
            layout = "(N, L, 2)" if self.columns else "(azimuth, range bins)"
            raise SceneError(f"{self.path}: {name} has shape {tuple(self.data.shape)}, expected {layout}")
        if np.dtype(self.data.dtype).kind != "c":
            raise SceneError(f"{self.path}: {name} has dtype {self.data.dtype}, expected complex64 or complex128")
        if min(self.data.shape) < 1:
            raise SceneError(f"{self.path}: {name} is empty {tuple(self.data.shape)}")

    def value(self, key: str):
        """A scalar field from an array or a group attribute, or None."""
        if key in self._store:
            v = np.asarray(self._store[key][...])
            return v.item() if v.ndim == 0 else v
        return self._attrs.get(key)

    def geometry(self) -> Geometry | None:
        """The geometry the file states (its six fields or a preset's name), or None."""
        preset = self.value("preset")
        if preset is not None:
            try:
                return get_preset(str(preset)).geometry()
            except ValueError as err:
                raise SceneError(f"{self.path}: preset: {err}") from None
        fields = {k: self.value(k) for k in FIELDS}
        if all(v is None for v in fields.values()):
            return None
        try:
            return Geometry.from_dict({k: None if v is None else float(v) for k, v in fields.items()})
        except (GeometryError, TypeError, ValueError) as err:
            raise SceneError(f"{self.path}: {err}") from None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def range_bins(self) -> int:
        """Range bins (scene) or columns (column set): what batches are cut along."""
        return self.shape[0] if self.columns else self.shape[1]

    def slant_ranges(self, geometry: Geometry) -> np.ndarray:
        """Slant range (m) of every range bin (R,), from the file or spread evenly over `geometry`'s swath."""
        values = self.value("slant_range_m")
        if values is None:
            stated = self.value("slant_range_near_m") is not None and self.value("slant_range_far_m") is not None
            if not stated:
                raise SceneError(
                    f"{self.path}: missing slant_range_m (the slant range of each range bin) and no "
                    "slant_range_near_m / slant_range_far_m to spread the range bins over"
                )
            return np.linspace(geometry.slant_range_near_m, geometry.slant_range_far_m, self.range_bins)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.shape != (self.range_bins,):
            raise SceneError(f"{self.path}: slant_range_m has {values.size} values for {self.range_bins} range bins")
        if not np.all(np.isfinite(values)):
            raise SceneError(f"{self.path}: slant_range_m holds NaN or Inf")
        return values

    @property
    def has_truth(self) -> bool:
        """The input carries the noise-free focused image (a simulated scene's `truth`, columns' `y`)."""
        if self.columns:  # y (N, L, 1) beside x (N, L, 2)
            y = self._store.get("y")
            return y is not None and len(y.shape) == 3 and tuple(y.shape[:2]) == self.shape[:2]
        truth = self._store.get("truth")  # (A, R) beside raw
        return truth is not None and tuple(truth.shape) == self.shape

    def truth(self, start: int, stop: int) -> np.ndarray:
        """The truth of range bins [start, stop) as lines (n, A) complex64."""
        if self.columns:
            return np.asarray(self._store["y"][start:stop, :, 0], dtype=np.complex64)
        return np.ascontiguousarray(self._store["truth"][:, start:stop].T, dtype=np.complex64)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Range bins [start, stop) as lines (n, A) complex64 (columns: x (n, L, 2) complex64), checked finite."""
        block = self.data[start:stop] if self.columns else self.data[:, start:stop].T
        block = np.ascontiguousarray(block, dtype=np.complex64)
        if not np.all(np.isfinite(block.view(np.float32))):
            where = "columns" if self.columns else "range bins"
            raise SceneError(
                f"{self.path}: {'x' if self.columns else 'raw'} holds NaN or Inf (in {where} {start}..{stop - 1})"
            )
        return block


def check_geometry(reader: SceneReader, model_geometry: Geometry | None) -> Geometry:
    """The geometry to focus with: the model's, which a geometry stated in the scene must equal."""
    stated = reader.geometry()
    if model_geometry is None:
        if stated is None:
            raise SceneError(
                f"{reader.path}: neither the scene nor the model states a geometry (add the six "
                f"fields {', '.join(FIELDS)} or preset)"
            )
        return stated
    if stated is not None:
        partial = getattr(reader, "partial_swath", False)  # a product: its range bins are checked one by one
        for key in ACQUISITION_FIELDS if partial else FIELDS:
            a, b = getattr(stated, key), getattr(model_geometry, key)
            if abs(a - b) > 1e-6 * abs(b):
                raise SceneError(
                    f"{reader.path}: {key} = {a:g} but the model was trained for {b:g}: the scene has "
                    f"{describe(stated)}, the model focuses {describe(model_geometry)}"
                )
    return model_geometry


def positional_encodings(reader: SceneReader, geometry: Geometry) -> np.ndarray:
    """p (R,) of every range bin (columns: read from x), checked inside the swath."""
    if reader.columns:
        return None
    r0 = reader.slant_ranges(geometry)
    near, far = geometry.slant_range_near_m, geometry.slant_range_far_m
    p = (r0 - near) / (far - near)
    outside = np.flatnonzero((p < -1e-6) | (p > 1 + 1e-6))
    if outside.size:
        i = int(outside[0])
        raise SceneError(
            f"{reader.path}: slant_range_m[{i}] = {r0[i]:.1f} m lies outside the model's swath "
            f"[{near:.1f}, {far:.1f}] m"
        )
    return np.clip(p, 0.0, 1.0)


def temporary_of(path: Path) -> Path:
    return path.parent / f".{path.name}.partial"


def put_fields(group, fields: dict) -> None:
    """Small arrays and scalars into a Zarr group: scalars as attributes, arrays as arrays."""
    for name, value in fields.items():
        value = np.asarray(value)
        if value.ndim == 0:
            group.attrs[name] = value.item()
        else:
            group.create_array(name, shape=value.shape, dtype=value.dtype)[...] = value


def check_output(path: Path, overwrite: bool, inputs: tuple = ()) -> None:
    """Refuse, before any work, an output that exists (without overwrite), has no known format, would
    destroy one of `inputs` (the same file, a folder holding it, or inside it) or cannot be written."""
    _suffix(path, "output")
    clash = input_clash(path, inputs)
    if clash is not None:
        raise SceneError(f"{path}: is or holds the input {clash}; write the output elsewhere")
    if path.exists() and not overwrite:
        raise SceneError(f"{path}: exists (pass --overwrite to replace it)")
    problem = unwritable_reason(path)
    if problem:
        raise SceneError(problem)


class SceneWriter:
    """Arrays written slice by slice into a hidden temporary beside OUT, renamed over OUT by `commit`."""

    def __init__(self, path: Path, arrays: dict[str, tuple[tuple[int, ...], str]], chunk: int, columns: bool):
        self.path, self.columns = Path(path), columns
        self.kind = _suffix(self.path, "output")
        self.tmp = temporary_of(self.path)
        remove(self.tmp)  # a killed run's leftover
        if self.kind == ".zarr":
            import zarr

            self._group = zarr.open_group(str(self.tmp), mode="w")
            self._arrays = {}
            for name, (shape, dtype) in arrays.items():
                chunks = (chunk, *shape[1:]) if columns else (shape[0], chunk)
                self._arrays[name] = self._group.create_array(
                    name, shape=shape, dtype=dtype, chunks=tuple(min(c, s) for c, s in zip(chunks, shape))
                )
        else:
            self._arrays = {name: np.zeros(shape, dtype=dtype) for name, (shape, dtype) in arrays.items()}
        self.fields: dict = {}

    def write(self, name: str, start: int, stop: int, block: np.ndarray) -> None:
        """Range bins [start, stop): block (n, A) lines (columns: (n, L, 1))."""
        if self.columns:
            self._arrays[name][start:stop] = block
        else:
            self._arrays[name][:, start:stop] = block.T

    def put(self, name: str, value) -> None:
        """A small array or scalar stored whole (slant ranges, geometry, edge samples)."""
        self.fields[name] = value

    def commit(self) -> None:
        if self.kind == ".zarr":
            put_fields(self._group, self.fields)
        else:
            with open(self.tmp, "wb") as fh:
                np.savez(fh, **self._arrays, **{k: np.asarray(v) for k, v in self.fields.items()})
                fh.flush()
                os.fsync(fh.fileno())
        swap_in(self.tmp, self.path)

    def abort(self) -> None:
        remove(self.tmp)
