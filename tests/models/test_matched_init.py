import pytest
import torch

from kdssm import metrics
from kdssm.config import ConfigError
from kdssm.data import matched_filter, simulate
from kdssm.geometry import PRESETS
from kdssm.models import SarSSM

MINI = PRESETS["mini"].geometry().to_dict()
S1 = PRESETS["s1"].geometry().to_dict()


@pytest.fixture(scope="module")
def mini_columns():
    return simulate("mini", 48, seed=11)


@pytest.mark.parametrize("dims", [(4, 32, 2), (16, 64, 3), (1, 64, 2), (3, 16, 1)])
def test_untrained_model_is_the_matched_filter(mini_columns, dims):
    """Any dims: the kernel fit (modes spread over channels when one channel has too few) and the stream."""
    x, y = mini_columns
    h, n, layers = dims
    torch.manual_seed(0)
    model = SarSSM(model_dim=h, state_dim=n, num_layers=layers, use_selectivity=True, dropout=0.0, geometry=MINI).eval()
    with torch.no_grad():
        y_hat = model(x)
    mf = matched_filter(x, "mini")
    assert model.init_fit_db < -40
    assert metrics.nmse_db(y_hat, mf) < -40
    assert abs(metrics.nmse_valid_db(y_hat, y, x, "mini") - metrics.nmse_valid_db(mf, y, x, "mini")) < 0.6


def test_the_aperture_gain_removes_the_amplitude_steps(mini_columns):
    """model.aperture_gain: the card's 1/sqrt(Na) steps where Na is rounded; one continuous response cannot
    follow them (the fit stops near -47 dB on mini), a fixed sqrt(Ta PRF / Na) per grid point can."""
    x, _ = mini_columns
    fits, errors = {}, {}
    for gain in (False, True):
        model = SarSSM(model_dim=16, state_dim=128, num_layers=1, use_selectivity=False, dropout=0.0, geometry=MINI,
                       range_points_per_aperture=6, aperture_gain=gain).eval()  # fmt: skip
        with torch.no_grad():
            errors[gain] = metrics.nmse_db(model(x), matched_filter(x, "mini"))
        fits[gain] = model.init_fit_db
    assert fits[False] > -49 and fits[True] < -58
    assert errors[True] < errors[False] - 6  # the untrained model is the filter to that much better


def test_untrained_s1_model_focuses():
    x, y = simulate("s1", 6, seed=4)
    model = SarSSM(model_dim=2, state_dim=256, num_layers=1, use_selectivity=False, geometry=S1).eval()
    with torch.no_grad():
        y_hat = model(x)
    mf = matched_filter(x, "s1")
    assert metrics.nmse_db(y_hat, mf) < -40
    assert abs(metrics.nmse_valid_db(y_hat, y, x, "s1") - metrics.nmse_valid_db(mf, y, x, "s1")) < 0.6


def test_random_init_is_no_focuser(mini_columns):
    x, y = mini_columns
    torch.manual_seed(0)
    model = SarSSM(model_dim=4, state_dim=32, num_layers=2, geometry=MINI, init="random").eval()
    with torch.no_grad():
        assert metrics.nmse_valid_db(model(x), y, x, "mini") > -3


def test_too_small_a_model_is_refused_in_one_line_or_starts_random_under_auto():
    with pytest.raises(ConfigError, match=r"model.state_dim: .* modes fit the reference function only to"):
        SarSSM(model_dim=1, state_dim=4, num_layers=1, geometry=MINI, init="matched_filter")
    auto = SarSSM(model_dim=1, state_dim=4, num_layers=1, geometry=MINI)
    assert auto.init_used == "random" and auto.init_fit_db is None
    assert SarSSM(model_dim=2, state_dim=32, num_layers=1, geometry=MINI).init_used == "matched_filter"


@pytest.mark.parametrize(
    "change,field",
    [
        ({"geometry": None}, "geometry"),
        ({"range_conditioning": False}, "range_conditioning"),
        ({"norm": "layer"}, "norm"),
        ({"activation": "gelu"}, "activation"),
        ({"bidirectional": False}, "bidirectional"),
    ],
)
def test_matched_filter_init_names_what_prevents_it(change, field):
    kwargs = dict(model_dim=4, state_dim=32, num_layers=1, geometry=MINI, init="matched_filter") | change
    with pytest.raises(ConfigError, match=f"model.init: matched_filter needs .*{field}"):
        SarSSM(**kwargs)
    auto = SarSSM(**(kwargs | {"init": "auto"}))  # auto falls back to the random init
    assert auto.init_used == "random"


def test_the_least_squares_runs_once_per_geometry_and_size(monkeypatch):
    """A second model of the same geometry, grid and size reuses the fit; another size fits again."""
    from kdssm.models import matched_init

    calls = []
    fit = matched_init.fit_reference
    monkeypatch.setattr(matched_init, "fit_reference", lambda *a: calls.append(1) or fit(*a))
    matched_init.reference_fit.cache_clear()
    torch.manual_seed(0)
    first = SarSSM(model_dim=4, state_dim=32, num_layers=2, geometry=MINI, use_selectivity=True)
    torch.manual_seed(0)
    second = SarSSM(model_dim=4, state_dim=32, num_layers=2, geometry=MINI, use_selectivity=True)
    assert len(calls) == 1
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)  # the cached start is the start
    SarSSM(model_dim=4, state_dim=64, num_layers=2, geometry=MINI)
    assert len(calls) == 2


def test_loading_an_s1_checkpoint_skips_the_fit(tmp_path, monkeypatch):
    """load_model builds without the start (every weight comes from the file) and gives the same outputs."""
    from kdssm.checkpoint import load_model, save_model
    from kdssm.models import matched_init

    torch.manual_seed(0)
    model = SarSSM(model_dim=4, state_dim=64, num_layers=2, use_selectivity=True, geometry=S1).eval()
    save_model(model, tmp_path / "model.ckpt", "teacher")
    monkeypatch.setattr(matched_init, "fit_reference", lambda *a: pytest.fail("fitted while loading"))
    matched_init.reference_fit.cache_clear()
    loaded = load_model(tmp_path)
    x, _ = simulate("s1", 2, seed=3)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
