"""Column splits: simulated from a seed per split, loaded from users' .npz files, or read from products."""

from __future__ import annotations

import functools
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ..config import ConfigError
from ..geometry import Geometry, Preset, columns_of, get_preset
from .errors import DataError
from .simulate import simulate


@dataclass
class Split:
    x: torch.Tensor  # (N, L, 2) complex64
    y: torch.Tensor | None  # (N, L, 1) complex64; None for unlabelled columns

    def dataset(self) -> TensorDataset:
        return TensorDataset(self.x, self.y)

    def __len__(self) -> int:
        return self.x.shape[0]


def check_columns(x, y, where: str, length: int | None = None) -> None:
    """Raise DataError unless x (N, L, 2) and y (N, L, 1) (None: unlabelled) are finite complex arrays of one L."""
    for name, arr, channels in (("x", x, 2), ("y", y, 1)):
        if arr is None:
            continue
        dtype = arr.dtype
        is_complex = dtype.is_complex if isinstance(arr, torch.Tensor) else np.iscomplexobj(arr)
        if not is_complex:
            raise DataError(f"{where}: '{name}' must be complex, got {dtype}")
        if arr.ndim != 3 or arr.shape[-1] != channels:
            raise DataError(f"{where}: '{name}' must have shape (N, L, {channels}), got {tuple(arr.shape)}")
        if arr.shape[0] == 0:
            raise DataError(f"{where}: '{name}' holds no columns")
        finite = torch.isfinite(arr).all() if isinstance(arr, torch.Tensor) else np.isfinite(arr).all()
        if not bool(finite):
            raise DataError(f"{where}: '{name}' contains NaN or Inf")
    if y is not None and x.shape[:2] != y.shape[:2]:
        raise DataError(f"{where}: x {tuple(x.shape)} and y {tuple(y.shape)} differ in N or L")
    if length is not None and x.shape[1] != length:
        raise DataError(f"{where}: columns have L = {x.shape[1]}, the preset expects {length}")
    p = x[..., 1].real
    if bool((p < 0).any()) or bool((p > 1).any()):
        raise DataError(f"{where}: the positional encoding x[..., 1] must lie in [0, 1]")


def load_npz(path: str | Path, length: int | None = None, labelled: bool = True) -> Split:
    """Columns from a .npz holding complex arrays x (N, L, 2) and y (N, L, 1); with labelled False,
    x only (a y in the file is ignored, said in one line on stderr)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    need = ("x", "y") if labelled else ("x",)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in need if k not in data.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(missing)} (need {' and '.join(need)})")
            x = data["x"]
            y = data["y"] if labelled else None
            if not labelled and "y" in data.files:
                print(f"kdssm: warning: {path}: holds 'y'; unlabelled columns are used without it", file=sys.stderr)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz file ({type(err).__name__})") from None
    check_columns(x, y, str(path), length)
    return Split(
        torch.from_numpy(x.astype(np.complex64)), None if y is None else torch.from_numpy(y.astype(np.complex64))
    )


@functools.lru_cache(maxsize=4)
def _product_set(options, stamps: tuple, scenes_unused: bool):
    from .product_columns import ProductSet

    if scenes_unused:
        print("kdssm: note: data.train_scenes is the simulator's; the products give the columns", file=sys.stderr)
    return ProductSet(options)


def product_set(data_cfg):
    """The ProductSet of a DataConfig naming products (opened once per process while the products are
    unchanged on disk), else None."""
    from .product_columns import ProductOptions, expand

    d = data_cfg
    if not d.products:
        return None
    paths = tuple(expand(d.products))
    options = ProductOptions(
        paths,
        d.product_level,
        get_preset(d.preset).length,
        tuple(sorted(d.stated_fields().items())),
        d.product_cache_mb << 20,
        d.product_scale,
        d.product_blocks,
        d.product_val_fraction,
        d.product_test_fraction,
    )
    stamps = tuple(_stamp(p) for p in paths)
    return _product_set(options, stamps, d.train_scenes is not None)


def _stamp(path: Path) -> tuple:
    """What changes when a product is written again: the modification times of the folder and its files."""
    try:
        return (path.stat().st_mtime_ns, *(f.stat().st_mtime_ns for f in sorted(path.iterdir())))
    except OSError:
        return ()


def data_columns(data_cfg) -> Preset:
    """What the columns of a DataConfig are: the preset's L, and its geometry unless the data section
    states one or reads products (then that geometry, under the name '<preset>+geometry')."""
    pre = get_preset(data_cfg.preset)
    products = product_set(data_cfg)
    if products is not None:
        return columns_of(products.geometry, pre.length, name=f"{pre.name}+geometry")
    stated = data_cfg.stated_geometry()
    if stated is None:
        return pre
    return columns_of(Geometry.from_dict(stated), pre.length, name=f"{pre.name}+geometry")


def geometry_known(data_cfg) -> bool:
    """Simulated columns have the preset's (or the stated) geometry; .npz columns only a stated one."""
    uses_files = any(getattr(data_cfg, f"{which}_npz") for which in ("train", "val", "test"))
    return data_cfg.stated_geometry() is not None or not uses_files  # products: derived (or an error)


def with_column_geometry(cfg, quiet: bool = False):
    """The RunConfig whose model records the columns' geometry (model.geometry empty: the data's).

    Columns of unknown geometry (.npz without the data section's geometry fields) leave it empty:
    the model then starts from the random init, which is said in one line on stderr. An explicit
    `model.init: matched_filter` that cannot be honoured is a ConfigError.
    """
    model = cfg.model
    if model.geometry is None and geometry_known(cfg.data):
        model = model.replace(geometry=data_columns(cfg.data).geometry().to_dict())
    blocker = model.matched_filter_blocker()
    if model.init == "matched_filter" and blocker:
        raise ConfigError(f"model.init: matched_filter {blocker}")
    if model.init == "auto" and model.geometry is None and not quiet:
        print(
            "kdssm: warning: the .npz columns state no geometry (data.wavelength_m ... data.slant_range_far_m): "
            "the model starts from the random init, and valid-region scores and the matched filter assume "
            f"the {cfg.data.preset!r} preset's geometry",
            file=sys.stderr,
        )
    return cfg.with_overrides({"model": {"geometry": model.geometry}})


def load_split(data_cfg, which: str) -> Split:
    """The train, val or test split of a DataConfig: its .npz file if given, else simulated."""
    products = product_set(data_cfg)
    if products is not None:
        return _product_split(products, data_cfg, which)
    npz = getattr(data_cfg, f"{which}_npz")
    columns = data_columns(data_cfg)
    if npz:
        return load_npz(npz, columns.length)
    kind = (data_cfg.train_scenes or "card") if which == "train" else "card"
    x, y = simulate(columns, getattr(data_cfg, f"{which}_size"), getattr(data_cfg, f"{which}_seed"), kind)
    return Split(x, y)


def load_unlabelled(data_cfg) -> Split | None:
    """The unlabelled columns of a DataConfig (x only), or None when it names none."""
    if not data_cfg.has_unlabelled:
        return None
    products = product_set(data_cfg)
    if products is not None:
        return _product_split(products, data_cfg, "unlabelled")
    columns = data_columns(data_cfg)
    if data_cfg.unlabelled_npz:
        return load_npz(data_cfg.unlabelled_npz, columns.length, labelled=False)
    kind = data_cfg.train_scenes or "card"  # the unlabelled columns are training columns too
    x, _ = simulate(columns, data_cfg.unlabelled_size, data_cfg.unlabelled_seed, kind)  # its y is never read
    return Split(x, None)


def _product_split(products, data_cfg, which: str) -> Split:
    """A split's columns drawn from the products' azimuth blocks (product_columns.py): the labelled
    products' blocks for train / val / test, the unlabelled products' every tile for "unlabelled"."""
    size, seed = getattr(data_cfg, f"{which}_size"), getattr(data_cfg, f"{which}_seed")
    if which == "unlabelled":
        tiles = products.unlabelled_tiles()
        if not any(len(t) for t in tiles):
            raise DataError(f"data.unlabelled_size: {size} unlabelled columns asked, every product has an az level")
    else:
        if not any(p.labelled for p in products.products):
            raise DataError(f"data.products: no product has an az level, so none gives {which} columns with targets")
        tiles = products.split_tiles(data_cfg.val_seed, data_cfg.test_seed)[which]
    index = products.draw(tiles, size, seed)
    if len(index) < size:
        print(
            f"kdssm: note: {which}: the products hold {len(index)} columns, fewer than the {size} asked",
            file=sys.stderr,
        )
    x, y = products.read_columns(index, labelled=which != "unlabelled")
    return Split(x, y)
