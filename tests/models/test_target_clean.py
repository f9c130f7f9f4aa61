"""model.shrink_targets' CLEAN (kdssm/models/target_clean.py): the closed-form PSF against its sum and the
card's focusing operator, targets found on card columns, nothing on clutter, equivariance, the valid region."""

import math

import numpy as np
import pytest
import torch

from kdssm.data.physics import focus
from kdssm.data.simulate import point_target, scene_draws, simulate_numpy, to_tensors
from kdssm.geometry import PRESETS
from kdssm.models.gate import edge_mask, position_features
from kdssm.models.target_clean import psf, psf_reference, targets

MINI = PRESETS["mini"]


def column_geometry(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    geometry = MINI.geometry()
    r0 = geometry.slant_range(p.double())
    return geometry.fm_rate(r0).float(), geometry.aperture_samples(r0).float()


@pytest.mark.parametrize(
    "ka, na, prf",
    [
        (MINI.geometry().fm_rate(MINI.geometry().slant_range(torch.tensor([0.0, 0.6]).double())), [83.0, 93.0], 600.0),
        ([1000.0, 1000.0], [41.0, 40.0], 100.0),  # theta = 2 pi every 10 samples: the aliased limit
    ],
)
def test_the_closed_form_is_the_sum(ka, na, prf):
    ka, na = torch.as_tensor(ka).float(), torch.as_tensor(na).float()
    u = torch.linspace(-130.0, 130.0, 2601).expand(2, -1).contiguous()  # on integers and between
    closed = torch.view_as_complex(psf(u, ka, na, prf)).to(torch.complex128)
    summed = psf_reference(u, ka, na, prf)
    assert float((closed - summed).abs().max() / summed.abs().max()) < 1e-5
    assert float(summed[:, u[0].abs() >= 130].abs().max()) == 0.0  # beyond the aperture: nothing


@pytest.mark.parametrize("offset", [0.0, 0.37, -0.25])
def test_the_psf_is_the_focused_point_target(offset):
    x, y = point_target("mini", p=0.3, offset=offset)
    ka, na = column_geometry(torch.tensor([0.3]))
    u = (torch.arange(x.shape[1]) - (x.shape[1] - 1) / 2 - offset)[None].float()  # (1, L)
    got = torch.view_as_complex(psf(u, ka, na, MINI.prf_hz))
    assert float((got - y[..., 0]).abs().max() / y.abs().max()) < 1e-5


def focused(kind: str, n: int = 64, seed: int = 11):
    """The matched filter's output (n, L, 2), its valid region (n, L), Ka, Na (n,) and the focused targets
    the simulator put there (n, L) complex128."""
    sim = simulate_numpy(MINI, n, seed, parts=True, **scene_draws(n, seed, kind))
    origin, length = sim["origin"], MINI.length
    y = focus(sim["raw"], sim["ka"], sim["na"], MINI.prf_hz)
    clutter = focus(sim["clutter_raw"], sim["ka"], sim["na"], MINI.prf_hz)[:, origin : origin + length]
    x, _ = to_tensors(sim["raw"], sim["p"], sim["truth"])
    valid = edge_mask(position_features(x[..., 1].real.mean(dim=1), length, MINI.geometry())) < 0.5
    real = torch.view_as_real(torch.from_numpy(y.astype(np.complex64)))
    return real, valid, *column_geometry(torch.from_numpy(sim["p"])), sim["truth"] - clutter


def test_clean_finds_the_card_targets():
    y, valid, ka, na, truth = focused("card")
    found = torch.view_as_complex(targets(y, valid, ka, na, MINI.prf_hz)).numpy()
    inside = valid.numpy()
    error = np.sum(np.abs(found - truth)[inside] ** 2) / np.sum(np.abs(truth)[inside] ** 2)
    assert 10 * math.log10(error) < -15.0  # the targets' responses, all but a little (-23.8 dB when written)
    assert np.all(found[~inside] == 0)


def test_clean_leaves_clutter_alone():
    y, valid, ka, na, _ = focused("clutter_only")
    found = targets(y, valid, ka, na, MINI.prf_hz)
    inside = valid[..., None].expand_as(y)
    assert float(found.pow(2).sum() / y[inside].pow(2).sum()) < 1e-3  # none found when written


def test_clean_is_phase_and_scale_equivariant_and_differentiable():
    y, valid, ka, na, _ = focused("card", n=16)
    found = targets(y, valid, ka, na, MINI.prf_hz)
    turn = torch.tensor([[math.cos(0.9), -math.sin(0.9)], [math.sin(0.9), math.cos(0.9)]])  # e^{0.9j}
    moved = targets(4.0 * y @ turn.T, valid, ka, na, MINI.prf_hz)
    torch.testing.assert_close(moved, 4.0 * found @ turn.T, rtol=0, atol=1e-4 * float(found.abs().max()))
    y.requires_grad_(True)
    targets(y, valid, ka, na, MINI.prf_hz).pow(2).sum().backward()
    assert float(y.grad.abs().max()) > 0


def test_a_column_without_a_valid_sample_is_left_alone():
    y, valid, ka, na, _ = focused("card", n=4)
    assert float(targets(y, torch.zeros_like(valid), ka, na, MINI.prf_hz).abs().max()) == 0.0
