"""The geometry of DATA_CARD.md: one rounding of Na everywhere, aperture buckets, user geometries."""

import itertools

import numpy as np
import pytest
import torch

from kdssm.geometry import FIELDS, PRESETS, Geometry, GeometryError, columns_of, get_preset


@pytest.mark.parametrize("name", ["mini", "s1"])
def test_aperture_buckets_cover_the_swath_with_the_card_rounding(name):
    pre = PRESETS[name]
    buckets = pre.aperture_buckets()
    assert buckets[0][1] == 0.0 and buckets[-1][2] == 1.0
    assert all(a[2] == pytest.approx(b[1]) for a, b in itertools.pairwise(buckets))  # contiguous
    for na, lo, hi in buckets:
        inside = np.linspace(lo, hi, 9)[1:-1]
        assert (pre.aperture_samples(pre.slant_range(inside)) == na).all() and na % 2 == 1
    lo, hi = pre.aperture_range()
    assert [b[0] for b in buckets] == list(range(lo, hi + 1, 2))


def test_numpy_and_torch_agree_on_na():
    pre = PRESETS["mini"]
    p = np.random.default_rng(0).uniform(0, 1, 20000)
    assert (
        pre.aperture_samples(pre.slant_range(p)) == pre.aperture_samples(pre.slant_range(torch.tensor(p))).numpy()
    ).all()
    assert (pre.half_aperture(torch.tensor(p)).numpy() == (pre.aperture_samples(pre.slant_range(p)) - 1) // 2).all()


def test_user_geometry_and_its_errors():
    values = {k: getattr(PRESETS["mini"], k) for k in FIELDS}
    g = Geometry.from_dict(values)
    cols = columns_of(g, 128, "mine")
    assert get_preset(cols) is cols and cols.length == 128 and cols.geometry() == g
    with pytest.raises(GeometryError, match="prf_hz: expected a finite number"):
        Geometry.from_dict({**values, "prf_hz": float("nan")})
    with pytest.raises(GeometryError, match="slant_range_near_m: must be <"):
        Geometry.from_dict({**values, "slant_range_near_m": 1e7})
    with pytest.raises(GeometryError, match="antenna_length_m: missing"):
        Geometry.from_dict({k: v for k, v in values.items() if k != "antenna_length_m"})
    with pytest.raises(ValueError, match="unknown preset 's3'"):
        get_preset("s3")
