"""kdssm.metrics on its own: the data card's scores against values known in closed form."""

import math

import numpy as np
import pytest
import torch

from kdssm import metrics
from kdssm.geometry import get_preset


def _columns(p: float, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """x (B, L, 2) complex64 of a mini column at positional encoding p, y (B, L, 1) complex64."""
    length = get_preset("mini").length
    g = torch.Generator().manual_seed(0)
    raw = torch.randn(batch, length, dtype=torch.complex64, generator=g)
    x = torch.stack([raw, torch.full_like(raw, p)], dim=-1)  # (B, L, 2)
    return x, torch.randn(batch, length, 1, dtype=torch.complex64, generator=g)


def test_nmse_of_a_scaled_reference_is_the_squared_scale_error():
    _, y = _columns(0.5)
    assert metrics.nmse(1.1 * y, y) == pytest.approx(0.01, rel=1e-5)
    assert metrics.nmse_db(1.1 * y, y) == pytest.approx(-20.0, abs=1e-4)
    assert metrics.accuracy(1.1 * y, y) == pytest.approx(0.99, rel=1e-6)
    assert metrics.accuracy(-y, y) == 0.0  # nmse 4: accuracy stops at 0
    assert metrics.nmse_db(y, y) == pytest.approx(-300.0)  # a perfect output floors at 1e-30, not -inf
    with pytest.raises(ValueError, match="no energy"):
        metrics.nmse(y, torch.zeros_like(y))


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_valid_mask_keeps_samples_a_half_aperture_from_both_ends(p):
    x, _ = _columns(p)
    half = int(get_preset("mini").half_aperture(torch.tensor([p], dtype=torch.float64))[0])
    mask = metrics.valid_mask(x, "mini")  # (B, L) bool
    length = x.shape[1]
    assert mask.shape == (2, length) and mask.dtype == torch.bool
    assert int(mask[0].sum()) == length - 2 * half
    assert not mask[0, half - 1] and mask[0, half] and mask[0, length - 1 - half] and not mask[0, length - half]


def test_valid_region_nmse_ignores_errors_at_the_edges_only():
    x, y = _columns(0.5)
    mask = metrics.valid_mask(x, "mini")[..., None]  # (B, L, 1)
    edge_error = torch.where(mask, y, 2 * y)
    assert metrics.nmse_valid_db(edge_error, y, x, "mini") == pytest.approx(-300.0)
    assert metrics.nmse_db(edge_error, y) > -10.0
    inner_error = torch.where(mask, 1.1 * y, y)
    assert metrics.nmse_valid_db(inner_error, y, x, "mini") == pytest.approx(-20.0, abs=1e-4)


def test_retention_is_the_accuracy_ratio():
    assert metrics.retention(0.9, 0.95) == pytest.approx(0.9 / 0.95)
    assert metrics.retention(0.5, 0.0) == pytest.approx(0.5e12)


def test_upsampling_is_band_limited_and_keeps_the_samples():
    n = 64
    line = np.exp(2j * np.pi * 5 * np.arange(n) / n)
    fine = metrics.upsample(line)
    assert fine.shape == (n * metrics.UPSAMPLE,)
    np.testing.assert_allclose(fine[:: metrics.UPSAMPLE], line, atol=1e-12)
    np.testing.assert_allclose(np.abs(fine), 1.0, atol=1e-12)  # a tone stays a tone between samples


def test_impulse_response_of_an_ideal_point_is_the_sinc_figures():
    line = np.zeros(256, dtype=complex)
    line[128] = 1.0
    figures = metrics.impulse_response(torch.as_tensor(line))
    assert figures["pslr_db"] == pytest.approx(-13.26, abs=0.02)  # the sinc's first sidelobe
    assert figures["irw_samples"] == pytest.approx(0.886, abs=0.005)  # its -3 dB width
    assert -10.5 < figures["islr_db"] < -9.0
    assert math.isfinite(figures["islr_db"])
