import numpy as np
import pytest
import torch

from kdssm import metrics
from kdssm.data import get_preset, matched_filter, point_target, simulate


def test_tensors_follow_the_data_card():
    x, y = simulate("mini", 6, seed=1)
    assert x.shape == (6, 256, 2) and x.dtype == torch.complex64
    assert y.shape == (6, 256, 1) and y.dtype == torch.complex64
    p = x[..., 1]
    assert torch.all(p.imag == 0) and torch.all((p.real >= 0) & (p.real <= 1))
    assert torch.all(p.real == p.real[:, :1])  # constant along each column


def test_reproducible_per_seed_and_seeds_differ():
    a, _ = simulate("mini", 4, seed=11)
    b, _ = simulate("mini", 4, seed=11)
    c, _ = simulate("mini", 4, seed=12)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_s1_columns_are_1000_long():
    x, y = simulate("s1", 2, seed=0)
    assert x.shape == (2, 1000, 2) and y.shape == (2, 1000, 1)


def test_preset_geometry():
    mini = get_preset("mini")
    na = mini.aperture_samples(np.array([800e3, 875e3, 950e3]))
    assert np.all(na % 2 == 1) and na[0] < na[1] < na[2]
    assert abs(mini.theoretical_irw(875e3) - 1.69) < 0.01
    assert abs(get_preset("s1").theoretical_irw(875e3) - 1.49) < 0.01
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("s2")


def test_clutter_power_is_about_one_without_targets():
    pre = get_preset("mini")
    from kdssm.data.simulate import simulate_numpy

    out = simulate_numpy(pre, 200, seed=3, targets_per_column=0.0)
    clutter_power = np.mean(np.abs(out["raw"]) ** 2) - np.mean(10 ** (-out["snr_db"] / 10))
    assert 0.85 < clutter_power < 1.15
    # Focusing sums each scatterer's Na samples coherently; its energy spreads over the compressed
    # pulse, PRF / B samples wide, so focused clutter power is the oversampling factor PRF / B.
    bandwidth = out["ka"] * out["na"] / pre.prf_hz
    oversampling = np.mean(pre.prf_hz / bandwidth)
    assert 0.85 < np.mean(np.abs(out["truth"]) ** 2) / oversampling < 1.15


@pytest.mark.parametrize("preset", ["mini", "s1"])
def test_matched_filter_point_target_quality(preset):
    pre = get_preset(preset)
    x, y = point_target(preset, p=0.5)
    response = metrics.impulse_response(matched_filter(x, preset)[0, :, 0])
    assert abs(response["pslr_db"] - (-13.26)) <= 0.3
    assert abs(response["islr_db"] - (-9.7)) <= 0.3
    theory = pre.theoretical_irw(pre.slant_range(0.5))
    assert abs(response["irw_samples"] / theory - 1.0) <= 0.03
    # the matched filter on a noise-free, uncut target is the ground-truth operator itself
    torch.testing.assert_close(matched_filter(x, preset), y, rtol=1e-4, atol=1e-4)


def test_matched_filter_scores_agree_with_the_data_card():
    x, y = simulate("mini", 200, seed=3)
    y_hat = matched_filter(x, "mini")
    assert abs(metrics.nmse_valid_db(y_hat, y, x, "mini") - (-34.5)) <= 1.0
    assert -12.5 < metrics.nmse_db(y_hat, y) < -9.5  # cut apertures at the column edges
    one_ka = x.clone()
    one_ka[..., 1] = 0.5
    assert abs(metrics.nmse_db(matched_filter(one_ka, "mini"), y) - (-3.3)) <= 1.0


def test_valid_mask_matches_the_preset_apertures():
    x, _ = simulate("mini", 16, seed=4)
    pre = get_preset("mini")
    half = (pre.aperture_samples(pre.slant_range(x[:, 0, 1].real.double().numpy())) - 1) // 2
    mask = metrics.valid_mask(x, "mini")
    assert mask.shape == (16, 256)
    assert mask.sum(dim=1).tolist() == (256 - 2 * half).tolist()
    assert not mask[torch.arange(16), torch.as_tensor(half) - 1].any()
    assert mask[torch.arange(16), torch.as_tensor(half)].all()


def test_scene_kinds_change_what_the_columns_hold_and_card_is_the_default():
    from kdssm.data.simulate import SCENE_KINDS, simulate_numpy, to_tensors

    scalar = simulate_numpy(get_preset("mini"), 64, 5)  # one Poisson mean and SNR range for all
    x_card, y_card = to_tensors(scalar["raw"], scalar["p"], scalar["truth"])
    x_named, y_named = simulate("mini", 64, seed=5, kind="card")  # per-column arrays of the same
    assert torch.equal(x_card, x_named) and torch.equal(y_card, y_named)  # the card's draws, unchanged
    peak_to_mean = {}
    for kind in ("card", "clutter_only", "very_dense"):
        _, y = simulate("mini", 64, seed=5, kind=kind)
        power = y.abs() ** 2
        peak_to_mean[kind] = float(power.amax(dim=1).mean() / power.mean())
    assert peak_to_mean["clutter_only"] < 15 < peak_to_mean["card"]  # no bright point targets
    pre = get_preset("mini")
    low = simulate_numpy(pre, 256, 5, snr_db=SCENE_KINDS["low_snr"].snr_db)["snr_db"]
    assert low.min() >= -5.0 and low.max() <= 5.0
    dense = simulate_numpy(pre, 4, 5, targets_per_column=np.array([0.0, 0.0, 30.0, 30.0]))["truth"]
    assert np.abs(dense[2:]).max() > 10 * np.abs(dense[:2]).max()  # a Poisson mean per column
    with pytest.raises(ValueError, match="unknown scene kind 'rain'"):
        simulate("mini", 4, seed=5, kind="rain")


def test_train_scenes_mix_the_training_columns_and_leave_validation_the_cards():
    from kdssm.config import ConfigError, DataConfig
    from kdssm.data.datasets import load_split

    card = DataConfig(train_size=400, val_size=16)
    mixed = DataConfig(train_size=400, val_size=16, train_scenes={"card": 0.5, "clutter_only": 0.5})
    assert torch.equal(load_split(mixed, "val").y, load_split(card, "val").y)
    y = load_split(mixed, "train").y  # (400, L, 1)
    power = y.abs() ** 2
    without_targets = float((power.amax(dim=1) / power.mean(dim=1) < 15).float().mean())
    # card columns hold no target with probability e^-3 = 5 %; clutter_only columns never do
    assert 0.42 < without_targets < 0.62
    with pytest.raises(ConfigError, match="data.train_scenes: weights must be >= 0"):
        DataConfig(train_scenes={"card": -1.0, "dense": 1.0})
    with pytest.raises(ConfigError, match="data.train_scenes: .rain. is not one of .card., .clutter_only."):
        DataConfig(train_scenes={"rain": 1.0})


def test_scene_kind_names_in_the_config_are_the_simulators():
    import typing

    from kdssm.config.data import SceneKindName
    from kdssm.data.simulate import SCENE_KINDS

    assert set(typing.get_args(SceneKindName)) == set(SCENE_KINDS)


def test_the_statistics_the_card_leaves_open_move_one_at_a_time():
    from kdssm.data.simulate import scene_draws, simulate_numpy

    pre = get_preset("mini")

    def columns(kind):
        return simulate_numpy(pre, 64, 3, parts=True, **scene_draws(64, 3, kind))

    def texture_correlation(sim, lag=4):
        log_mu = np.log(sim["mu"]) - np.log(sim["mu"]).mean(axis=1, keepdims=True)
        return float((log_mu[:, lag:] * log_mu[:, :-lag]).mean() / (log_mu**2).mean())

    card, smooth, rough = columns("card"), columns("smooth_texture"), columns("rough_texture")
    assert texture_correlation(rough) < 0.1 < texture_correlation(card) < 0.9 < texture_correlation(smooth)
    assert np.array_equal(card["p"], smooth["p"])  # the same columns (a longer texture draws more after them)

    def power(kind):
        return float(np.mean(np.abs(columns(kind)["truth"]) ** 2))

    assert power("faint_targets") < power("card") < power("bright_targets")
    ends = np.abs(columns("targets_at_ends")["truth"]) ** 2  # (64, L)
    na = int(card["na"].max())
    assert ends[:, : na // 2].mean() > 10 * ends[:, na:-na].mean()  # the targets' focused peaks sit at the ends
