"""The genie's limit: its operators against the simulator, the closed form against its own estimator run on
the columns' clutter and noise, and the limit below the matched filter."""

import numpy as np
import pytest

from kdssm.config import RunConfig
from kdssm.data import matched_filter, simulate
from kdssm.data.limit import column_operators, split_limit, split_limit_of
from kdssm.data.physics import aperture_taps, convolve_same, focus
from kdssm.geometry import PRESETS
from kdssm.metrics import nmse_db, nmse_valid_db

MINI = PRESETS["mini"]


def test_operators_are_the_simulators_convolution_and_focusing():
    ka, na, origin, length = float(MINI.fm_rate(870e3)), int(MINI.aperture_samples(870e3)), 101, 256
    extent = length + 2 * origin
    rng = np.random.default_rng(0)
    a = rng.standard_normal(extent) + 1j * rng.standard_normal(extent)  # scatterers on the extended grid
    taps, half = aperture_taps(np.array([ka]), np.array([na]), MINI.prf_hz)
    raw = convolve_same(a[None, :], taps, half)  # (1, E)
    c, g = column_operators(ka, na, MINI.prf_hz, origin, length, extent)
    np.testing.assert_allclose(c @ a, raw[0, origin : origin + length], rtol=1e-10, atol=1e-9)
    focused = focus(raw, np.array([ka]), np.array([na]), MINI.prf_hz)[0, origin : origin + length]
    np.testing.assert_allclose(g @ a, focused, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("kind", ["card", "low_snr"])
def test_closed_form_agrees_with_the_genie_run_on_the_columns(kind):
    limit = split_limit("mini", 64, seed=5, kind=kind, monte_carlo=True)
    assert limit["monte_carlo_nmse_db"] == pytest.approx(limit["nmse_db"], abs=0.3)
    assert limit["monte_carlo_nmse_valid_db"] == pytest.approx(limit["nmse_valid_db"], abs=0.3)


def test_the_limit_lies_below_the_filter():
    x, y = simulate("mini", 64, seed=6)
    limit = split_limit("mini", 64, seed=6)
    filtered = matched_filter(x, "mini")
    assert limit["nmse_db"] < nmse_db(filtered, y) - 10  # the edges: the filter cannot see cut apertures
    assert limit["nmse_valid_db"] < nmse_valid_db(filtered, y, x, "mini")  # inside: it keeps the noise
    first = split_limit("mini", 64, seed=6, columns=16)
    assert first["columns"] == 16 and first["nmse_db"] != limit["nmse_db"]


def test_no_limit_for_columns_whose_hidden_parts_are_unknown(tmp_path):
    assert split_limit_of(RunConfig().with_overrides({"data": {"test_npz": str(tmp_path / "t.npz")}}).data) is None
    assert split_limit_of(RunConfig().with_overrides({"data": {"products": str(tmp_path / "p.zarr")}}).data) is None
    small = RunConfig().with_overrides({"data": {"test_size": 8}}).data
    assert split_limit_of(small)["columns"] == 8
