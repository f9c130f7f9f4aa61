"""`kdssm focus` on a Maya4-layout product: the focused level added to a byte-for-byte copy, round trip to az."""

import hashlib

import numpy as np
import pytest
import torch
import zarr

from kdssm import metrics
from kdssm.data.product_writer import write_product
from kdssm.geometry import PRESETS

from ..helpers import cli
from .models import linear_student, saved

MINI = PRESETS["mini"]
SCALE = 30.0


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    root = tmp_path_factory.mktemp("product_focus")
    path = root / "product.zarr"
    write_product(path, MINI.geometry(), MINI.length, 1200, 64, seed=7, scale=SCALE, rc=True)
    return {"root": root, "path": path, "linear": saved(linear_student(), root / "linear")}


def _digests(folder) -> dict:
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.rglob("*") if f.is_file()
    }


def _valid_nmse_db(focused: np.ndarray, truth: np.ndarray, edge: int) -> float:
    inner = slice(edge, focused.shape[0] - edge)
    return metrics.nmse_db(torch.from_numpy(focused[inner]), torch.from_numpy(truth[inner]))


def test_focus_adds_the_focused_level_and_changes_nothing_else(product, tmp_path):
    out = tmp_path / "focused.zarr"
    before = _digests(product["path"])
    args = [product["linear"], "--input", product["path"], "--output", out, "--compare", "matched_filter", "--quiet"]
    assert cli(["focus", *map(str, args)]) == 0
    assert _digests(product["path"]) == before  # the input is untouched
    after = _digests(out)
    assert {k: after[k] for k in before} == before  # every file of the product copied byte for byte
    added = {k.split("/")[0] for k in after.keys() - before.keys()}
    assert added == {"focused", "matched_filter", "kdssm"}
    group = zarr.open_group(str(out), mode="r")
    truth, rcmc = group["az"][...], group["rcmc"][...]
    focused, filtered = group["focused"][...], group["matched_filter"][...]
    assert focused.shape == truth.shape and group["focused"].chunks == group["rcmc"].chunks
    assert group["kdssm"].attrs["scale"] == SCALE
    edge = int(group["kdssm/edge_samples"][...].max())
    # the round trip: in the product's units, the filter's and the model's valid regions match the
    # simulator's noise-free truth as the card's columns do (only the input noise remains)
    assert _valid_nmse_db(filtered, truth, edge) < -25
    assert _valid_nmse_db(focused, truth, edge) < -20
    assert np.abs(focused).mean() == pytest.approx(np.abs(truth).mean(), rel=0.1)  # put back into its units
    assert np.abs(rcmc).mean() > 10  # the levels are in the product's units, 30x the card's


def test_focus_reads_the_rc_level_on_request(product, tmp_path):
    out = tmp_path / "rc.zarr"
    args = [product["linear"], "--input", product["path"], "--output", out, "--level", "rc", "--quiet"]
    assert cli(["focus", *map(str, args)]) == 0
    assert "focused" in zarr.open_group(str(out), mode="r").array_keys()


def test_a_product_is_focused_into_zarr_only(product, tmp_path, capsys):
    out = tmp_path / "focused.npz"
    assert cli(["focus", product["linear"], "--input", str(product["path"]), "--output", str(out)]) == 2
    assert "a product's focus is written as .zarr" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_the_scale_training_used_can_be_given(product, tmp_path):
    outs = {}
    for scale in ("30", "60"):
        out = tmp_path / f"scale{scale}.zarr"
        args = [product["linear"], "--input", product["path"], "--output", out, "--product_scale", scale, "--quiet"]
        assert cli(["focus", *map(str, args)]) == 0
        group = zarr.open_group(str(out), mode="r")
        assert group["kdssm"].attrs["scale"] == float(scale)
        outs[scale] = group["focused"][...]
    # a linear model's output, put back into the product's units, does not depend on the scale it ran at
    np.testing.assert_allclose(outs["30"], outs["60"], rtol=1e-4, atol=1e-3 * np.abs(outs["30"]).max())
