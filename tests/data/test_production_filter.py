"""The production matched filter (complex64, cached spectra) equals the exact scoring one."""

import pytest
import torch

from kdssm import metrics
from kdssm.data import matched_filter, simulate
from kdssm.data.production_filter import ProductionFilter
from kdssm.geometry import PRESETS


@pytest.mark.parametrize("preset", ["mini", "s1"])
def test_equal_to_the_exact_filter(preset):
    x, _ = simulate(preset, 24, seed=4)
    fast = ProductionFilter(PRESETS[preset].geometry(), PRESETS[preset].length)
    exact = matched_filter(x, preset)
    y_hat = fast(x)
    assert y_hat.dtype == torch.complex64 and y_hat.shape == exact.shape
    assert metrics.nmse_db(y_hat, exact) < -100
    assert metrics.nmse_db(fast(x), exact) < -100  # again, from the cached spectra
    assert len(fast.cache) == 24


def test_lines_of_another_length_are_refused():
    fast = ProductionFilter(PRESETS["mini"].geometry(), 256)
    with pytest.raises(ValueError, match="built for lines of 256 samples, got 300"):
        fast.focus_lines(torch.zeros(2, 300, dtype=torch.complex64), torch.zeros(2).numpy())
