"""Products that cannot give columns are refused in one line naming the product, the level and the field,
before anything is written."""

import numpy as np
import pytest
import zarr

from kdssm.cli import main
from kdssm.data.product_writer import write_product
from kdssm.geometry import PRESETS

from ..helpers import SMALL_SPLITS, flags

MINI = PRESETS["mini"]
ARGS = [
    "train",
    *flags(model_dim=4, state_dim=8, num_layers=1, num_epochs=1, train_size=64, **SMALL_SPLITS, quiet=True),
]


def _product(path):
    write_product(path, MINI.geometry(), MINI.length, 4096, 32, seed=4, scale=10.0)
    return zarr.open_group(str(path), mode="r+")


def _drop_level(group):
    del group["rcmc"]


def _reshape_az(group):
    del group["az"]
    group.create_array("az", shape=(4096, 16), dtype="complex64")[...] = 1.0


def _real_level(group):
    del group["rcmc"]
    group.create_array("rcmc", shape=(4096, 32), dtype="float32")[...] = 1.0


def _nan_in_a_tile(group):
    group["rcmc"][300, 5] = np.nan


def _no_pri(group):
    group.attrs["metadata"] = [{k: v for k, v in r.items() if k != "PRI"} for r in group.attrs["metadata"]]


def _pri_changes(group):
    records = group.attrs["metadata"]
    records[-1] = {**records[-1], "PRI": records[-1]["PRI"] * 1.01}
    group.attrs["metadata"] = records


CASES = {
    "missing level": (_drop_level, "no rcmc level (it holds az)"),
    "levels of different shapes": (_reshape_az, "az has shape (4096, 16), rcmc (4096, 32)"),
    "real level": (_real_level, "rcmc has dtype float32, expected complex"),
    "NaN in a tile": (_nan_in_a_tile, "rcmc holds NaN or Inf (azimuth line 300, range bin 5)"),
    "no PRI": (_no_pri, "metadata.PRI: missing; the geometry needs prf_hz (state it as data.prf_hz)"),
    "PRI changes": (_pri_changes, "metadata.PRI: changes along azimuth"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_products_are_refused_before_anything_is_written(tmp_path, capsys, case):
    tamper, message = CASES[case]
    path = tmp_path / "product.zarr"
    tamper(_product(path))
    run = tmp_path / "run"
    size = ["--train_size", "2000"]  # every training column is read (the NaN's among them)
    assert main([*ARGS, *size, "--products", str(path), "--save_dir", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("kdssm: error: ") and str(path) in err and message in err, err
    assert not run.exists()


def test_a_field_the_metadata_lacks_can_be_stated(tmp_path, capsys):
    path = tmp_path / "product.zarr"
    _no_pri(_product(path))
    run = tmp_path / "run"
    assert main([*ARGS, "--products", str(path), "--set", "data.prf_hz=600", "--save_dir", str(run)]) == 0
    notice = next(line for line in capsys.readouterr().err.splitlines() if "product(s)" in line)
    assert "prf_hz 600 (the config)" in notice and "velocity_m_s 7100 (the ephemeris)" in notice


def test_products_and_npz_columns_are_not_mixed(tmp_path, capsys):
    assert main([*ARGS, "--products", "a.zarr", "--train_npz", "b.npz", "--save_dir", str(tmp_path / "r")]) == 2
    assert "data.products: the columns come from products or from data.train_npz, not both" in capsys.readouterr().err


def test_a_glob_matching_nothing(tmp_path, capsys):
    assert main([*ARGS, "--products", str(tmp_path / "*.zarr"), "--save_dir", str(tmp_path / "r")]) == 2
    assert "*.zarr: no product matches" in capsys.readouterr().err


def test_a_run_folder_holding_its_product_is_refused(tmp_path, capsys):
    path = tmp_path / "data" / "product.zarr"
    path.parent.mkdir()
    _product(path)
    before = sorted(p.name for p in path.rglob("*"))
    assert main([*ARGS, "--products", str(path), "--save_dir", str(tmp_path / "data"), "--overwrite"]) == 2
    assert "save_dir is or holds the input" in capsys.readouterr().err
    assert sorted(p.name for p in path.rglob("*")) == before  # --overwrite destroyed nothing
