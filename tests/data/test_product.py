"""Maya4-layout products: the geometry derived from the L0 records, scaling, tiling, splits, the bounded cache."""

import itertools

import numpy as np
import pytest
import torch
import zarr

from kdssm.config import RunConfig
from kdssm.data.datasets import load_split, load_unlabelled
from kdssm.data.product import ChunkCache
from kdssm.data.product_columns import ProductColumns, ProductOptions, ProductSet
from kdssm.data.product_geometry import F_REF_HZ, effective_velocity, platform_state, seconds
from kdssm.data.product_writer import write_product
from kdssm.geometry import FIELDS, PRESETS

MINI = PRESETS["mini"]


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    path = tmp_path_factory.mktemp("products") / "mini.zarr"
    geometry = write_product(path, MINI.geometry(), MINI.length, 4096, 96, seed=3, scale=25.0)
    return path, geometry


def _set(path, **options) -> ProductSet:
    return ProductSet(ProductOptions((path,), length=MINI.length, **options), quiet=True)


@pytest.mark.parametrize("preset,lines", [("mini", 4096), ("s1", 12000)])
def test_geometry_derived_from_the_records_equals_the_written_one(tmp_path, preset, lines):
    pre = PRESETS[preset]
    path = tmp_path / f"{preset}.zarr"
    written = write_product(path, pre.geometry(), pre.length, lines, 64, seed=1)
    derived = _set(path).geometry
    for field in FIELDS:
        assert getattr(derived, field) == pytest.approx(getattr(written, field), rel=1e-6), field
    assert written.slant_range_near_m == pre.slant_range_near_m  # the product starts at the preset's near range


def test_s1_field_units_and_the_effective_velocity():
    assert seconds(5.8e-4) == 5.8e-4  # decoded PRI in seconds stays
    assert seconds(21770.0) == pytest.approx(21770.0 / F_REF_HZ)  # a raw count of 1/F_REF ticks
    pos, vel = platform_state(7100.0, np.radians(60.0), 693e3)
    record = {**dict(zip(("X-axis position ECEF", "Y-axis position ECEF", "Z-axis position ECEF"), pos))}
    record |= dict(zip(("X-axis velocity ECEF", "Y-axis velocity ECEF", "Z-axis velocity ECEF"), vel))
    assert effective_velocity([record]) == pytest.approx(7100.0, rel=1e-12)
    assert np.linalg.norm(vel) == pytest.approx(7100.0 * 1.053, rel=0.01)  # the platform moves ~5 % faster


def test_columns_are_the_product_tiles_scaled_with_p_from_the_slant_range(product):
    path, _ = product
    products = _set(path)
    assert products.scales == (25.0,)  # the product's column_scale
    index = np.array([[0, 512, 0], [0, 768, 95], [0, 0, 40]])
    x, y = products.read_columns(index)
    group = zarr.open_group(str(path), mode="r")
    for k, (_, a0, r) in enumerate(index):
        np.testing.assert_allclose(x[k, :, 0].numpy() * 25.0, group["rcmc"][a0 : a0 + 256, r], rtol=1e-6)
        np.testing.assert_allclose(y[k, :, 0].numpy() * 25.0, group["az"][a0 : a0 + 256, r], rtol=1e-6)
        assert torch.all(x[k, :, 1].real == float(r) / 95)  # range bins spread evenly over the product's swath
    assert x.dtype == torch.complex64 and x.shape == (3, 256, 2) and y.shape == (3, 256, 1)


def test_scale_estimated_on_clutter_is_the_written_one(tmp_path):
    path = tmp_path / "clutter.zarr"
    write_product(path, MINI.geometry(), MINI.length, 4096, 256, seed=2, scale=40.0, targets_per_column=0.0,
                  state_scale=False)  # fmt: skip
    products = _set(path)
    assert products.scales[0] == pytest.approx(40.0, rel=0.05)
    assert _set(path, scale=3.0).scales == (3.0,)  # data.product_scale replaces it
    bare = tmp_path / "bare.zarr"  # no az: estimated on the matched filter of rcmc, its noise included
    write_product(bare, MINI.geometry(), MINI.length, 4096, 256, seed=2, scale=40.0, targets_per_column=0.0,
                  state_scale=False, labelled=False)  # fmt: skip
    assert _set(bare).scales[0] == pytest.approx(40.0, rel=0.06)  # the noise adds, the cut ends take away


def test_splits_never_share_ground(product):
    path, _ = product
    products = _set(path)
    splits = products.split_tiles(val_seed=2, test_seed=3)
    owner = {}
    for which, (starts,) in ((k, v) for k, v in splits.items()):
        assert len(starts) > 0, which
        for a0 in starts:
            owner[int(a0)] = which
    assert len(owner) == sum(len(v[0]) for v in splits.values())  # no tile in two splits
    aperture = products.geometry.aperture_range()[1]
    tiles = sorted(owner)
    for a, b in itertools.pairwise(tiles):
        if owner[a] != owner[b]:
            assert b - (a + MINI.length) >= aperture  # a full aperture between tiles of different splits
    again = products.split_tiles(val_seed=2, test_seed=3)
    assert all(np.array_equal(again[k][0], splits[k][0]) for k in splits)
    assert not np.array_equal(products.split_tiles(val_seed=5, test_seed=3)["test"][0], splits["test"][0])


def test_a_small_cache_reads_the_same_columns_and_never_holds_more(product):
    path, _ = product
    big, small = _set(path), _set(path, cache_bytes=3 * 256 * 256 * 8)  # three 256 x 256 complex64 chunks
    index = big.draw(big.split_tiles(2, 3)["train"], 400, seed=1)
    xb, yb = big.read_columns(index)
    xs, ys = small.read_columns(index)
    assert torch.equal(xb, xs) and torch.equal(yb, ys)
    assert small.cache.peak_bytes <= small.cache.max_bytes
    dataset = ProductColumns(small, index)  # random access, one column at a time
    for k in (0, 17, 399):
        x, y = dataset[k]
        assert torch.equal(x, xb[k]) and torch.equal(y, yb[k])


def test_cache_evicts_least_recently_used():
    cache = ChunkCache(max_bytes=2 * 80)
    loads = []

    def chunk(k):
        loads.append(k)
        return np.zeros(10, dtype=np.complex64)  # 80 bytes

    for key in ("a", "b", "a", "c", "a", "b"):
        cache.get(key, lambda k=key: chunk(k))
    assert loads == ["a", "b", "c", "b"]  # "b" was least recently used when "c" came
    assert cache.bytes <= cache.max_bytes


def test_config_splits_and_unlabelled_products(product, tmp_path):
    path, _ = product
    bare = tmp_path / "bare.zarr"
    write_product(bare, MINI.geometry(), MINI.length, 2048, 96, seed=9, scale=25.0, labelled=False)
    data = {"products": f"{path},{bare}", "train_size": 300, "val_size": 64, "test_size": 64, "unlabelled_size": 50}
    cfg = RunConfig().with_overrides({"data": data})
    train, val, test = (load_split(cfg.data, w) for w in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (300, 64, 64)
    unlabelled = load_unlabelled(cfg.data)
    assert len(unlabelled) == 50 and unlabelled.y is None
    seen = {
        w: {c.tobytes() for c in s.x[:, :8, 0].numpy()} for w, s in (("train", train), ("val", val), ("test", test))
    }
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"])
    same = load_split(cfg.data, "test")
    assert torch.equal(same.x, test.x)  # reproducible
