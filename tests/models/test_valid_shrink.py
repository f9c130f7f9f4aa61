"""model.valid_shrink: the robust noise estimate, the start at gain 1, the edges left alone, equivariance,
and a shrink that learns to denoise the valid region at low SNR."""

import numpy as np
import pytest
import torch

from kdssm import metrics
from kdssm.config import ConfigError
from kdssm.data.simulate import scene_draws, simulate, simulate_numpy, to_tensors
from kdssm.geometry import PRESETS
from kdssm.models import SarSSM, freeze_focusing_path
from kdssm.models.cost import fft_macs, macs_per_column
from kdssm.models.gate import edge_mask, position_features
from kdssm.models.valid_shrink import QUANTILE, ValidShrink, quantile

MINI = PRESETS["mini"]


def noisy_columns(kind: str, n: int = 128):
    """x (n, L, 2) complex64 and each column's true noise power (n,)."""
    sim = simulate_numpy(MINI, n, 11, **scene_draws(n, 11, kind))
    x, _ = to_tensors(sim["raw"], sim["p"], sim["truth"])
    return x, 10.0 ** (-sim["snr_db"] / 10.0)


def estimate(x: torch.Tensor) -> np.ndarray:
    """The robust estimate N_hat (n,) of columns x (n, L, 2)."""
    shrink = ValidShrink(MINI.geometry())
    return shrink.column_noise(torch.view_as_real(x[..., 0]), x[..., 1].real.mean(dim=1))[0].numpy()


def naive(x: torch.Tensor) -> np.ndarray:
    """The probe's mean N_mean (n,) of columns x (n, L, 2)."""
    shrink = ValidShrink(MINI.geometry())
    return shrink.column_noise(torch.view_as_real(x[..., 0]), x[..., 1].real.mean(dim=1))[1].numpy()


def test_quantile_is_torch_quantile():
    values = torch.rand(4, 37)
    for q in (0.0, QUANTILE, 0.5, 1.0):
        torch.testing.assert_close(quantile(values, q), torch.quantile(values, q, dim=-1))


@pytest.mark.parametrize("kind, low, high", [("clutter_only", 0.9, 1.6), ("low_snr", 0.9, 1.4), ("card", 1.0, 2.0)])
def test_the_noise_estimate_reads_the_noise(kind, low, high):
    x, known = noisy_columns(kind)
    ratio = np.median(estimate(x) / known)
    assert low < ratio < high


def test_a_bright_target_hardly_moves_the_estimate():
    """A 30 dB target's chirp leaks past the band 20-40 dB above the noise: the probe's mean reads it, its
    low quantile (the samples between the chirp's ends) does not."""
    x, _ = noisy_columns("clutter_only", 32)
    geometry = MINI.geometry()
    p = x[..., 1].real.mean(dim=1).double()
    r0 = geometry.slant_range(p)
    ka, na = geometry.fm_rate(r0), geometry.aperture_samples(r0)
    bright = x.clone()
    t = (torch.arange(x.shape[1]) - (x.shape[1] - 1) / 2) / geometry.prf_hz  # (L,) s, the target mid-column
    for c in range(x.shape[0]):
        inside = (t.abs() <= na[c] / geometry.prf_hz / 2).to(torch.complex64)
        bright[c, :, 0] += 10**1.5 * inside * torch.exp(-1j * torch.pi * ka[c] * t.double() ** 2).to(torch.complex64)
    robust = np.median(estimate(bright) / estimate(x))
    assert robust < 2.0 and np.median(naive(bright) / naive(x)) > 10.0


def shrunk_pair():
    """The same edge-gated model without and with a shrink (its weights copied)."""
    cfg = dict(model_dim=3, state_dim=32, num_layers=2, gate_layers="not_first", gate_region="edges")
    torch.manual_seed(0)
    plain = SarSSM(geometry=MINI.geometry().to_dict(), dropout=0.0, **cfg).eval()
    shrunk = SarSSM(geometry=MINI.geometry().to_dict(), dropout=0.0, valid_shrink=True, **cfg).eval()
    shrunk.load_state_dict(plain.state_dict(), strict=False)
    return plain, shrunk


def test_the_shrink_starts_at_gain_one_and_never_touches_the_edges():
    plain, shrunk = shrunk_pair()
    x, _ = simulate("mini", 8, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(shrunk(x), plain(x), rtol=0, atol=0)
        shrunk.shrink.out.weight.normal_(0.0, 0.5)
        shrunk.shrink.out.bias.fill_(-0.2)
        got, want = shrunk(x)[..., 0], plain(x)[..., 0]
    edges = edge_mask(position_features(x[..., 1].real.mean(dim=1), x.shape[1], plain.geometry)).bool()  # (B, L)
    torch.testing.assert_close(got[edges], want[edges], rtol=0, atol=0)
    assert float((got[~edges] - want[~edges]).abs().max()) > 1e-3 * float(want.abs().max())


def test_a_shrunk_model_is_phase_and_scale_equivariant():
    _, shrunk = shrunk_pair()
    with torch.no_grad():
        shrunk.shrink.out.weight.normal_(0.0, 0.5)
        x, _ = simulate("mini", 8, seed=4)
        y = shrunk(x)
        turned = torch.stack([x[..., 0] * torch.exp(torch.tensor(0.9j)), x[..., 1]], dim=-1)
        louder = torch.stack([x[..., 0] * 5.0, x[..., 1]], dim=-1)
        assert float((shrunk(turned) - y * torch.exp(torch.tensor(0.9j))).abs().max() / y.abs().max()) < 1e-5
        assert float((shrunk(louder) - 5.0 * y).abs().max() / y.abs().max()) < 1e-4


def test_the_shrink_needs_the_geometry():
    with pytest.raises(ConfigError, match="valid_shrink needs the acquisition geometry"):
        SarSSM(model_dim=2, state_dim=16, num_layers=1, valid_shrink=True, geometry=None)


def test_its_cost_is_counted():
    plain, shrunk = shrunk_pair()
    length, hidden, windows = 256, 16, 6
    by_hand = 2 * fft_macs(1, length) + 2 * length + 2 * length * windows
    by_hand += (windows + 3) * hidden * length + hidden * windows * length + windows * length + 2 * length
    assert macs_per_column(shrunk, length) - macs_per_column(plain, length) == by_hand
    shrunk.shrink.targets = True  # 8 iterations of 21 offsets on 49 samples, the amplitude twice over L
    assert macs_per_column(shrunk, length) - macs_per_column(plain, length) == by_hand + 8 * (6 * 21 * 49 + 16 * length)


def test_the_targets_need_the_shrink():
    with pytest.raises(ConfigError, match="shrink_targets needs model.valid_shrink"):
        SarSSM(model_dim=2, state_dim=16, num_layers=1, shrink_targets=True, geometry=MINI.geometry().to_dict())


@pytest.mark.parametrize("targets, least", [(False, 0.8), (True, 1.6)])
def test_a_shrink_learns_to_denoise_the_valid_region_at_low_snr(targets, least):
    """The matched filter frozen, only the shrink trained (120 steps): inside the valid region it beats the
    filter on held-out low-SNR columns by most of what a Wiener gain with the noise known wins there (1.3 dB),
    and with the targets subtracted first by more than that gain could (CLEAN and the noise known: 2.0 dB)."""
    torch.manual_seed(0)
    model = SarSSM(
        model_dim=2,
        state_dim=32,
        num_layers=2,
        use_selectivity=False,
        valid_shrink=True,
        shrink_targets=targets,
        dropout=0.0,
        geometry=MINI.geometry().to_dict(),
    )
    freeze_focusing_path(model)
    for layer in model.layers[1:]:
        layer.requires_grad_(False)
    x, y = simulate("mini", 512, seed=5, kind="low_snr")
    x_test, y_test = simulate("mini", 128, seed=6, kind="low_snr")
    with torch.no_grad():
        before = metrics.nmse_valid_db(model(x_test), y_test, x_test, "mini")
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    valid = ~edge_mask(position_features(x[..., 1].real.mean(dim=1), x.shape[1], model.geometry)).bool()
    for _ in range(120):
        batch = torch.randint(0, x.shape[0], (64,))
        error = (model(x[batch]) - y[batch])[..., 0].abs().pow(2)[valid[batch]]
        loss = error.sum() / y[batch][..., 0].abs().pow(2)[valid[batch]].sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        after = metrics.nmse_valid_db(model(x_test), y_test, x_test, "mini")
    assert before - after > least  # 1.32 and 2.12 dB when written
