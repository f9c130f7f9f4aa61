import pytest
import torch

from kdssm.data import simulate
from kdssm.models import MODEL_PRESETS, SarSSM, count_params

TINY = dict(model_dim=4, state_dim=8, num_layers=2)


@pytest.fixture(scope="module")
def columns():
    return simulate("mini", 3, seed=5)


@pytest.mark.parametrize("selectivity,range_cond", [(True, True), (False, False), (True, False)])
def test_forward_shapes_dtypes_and_features(columns, selectivity, range_cond):
    x, _ = columns
    model = SarSSM(**TINY, use_selectivity=selectivity, range_conditioning=range_cond).eval()
    y, feats = model(x, return_features=True)
    assert y.shape == (3, 256, 1) and y.dtype == torch.complex64
    assert len(feats) == 2 and all(f.shape == (3, 256, 4) and f.dtype == torch.complex64 for f in feats)
    assert torch.equal(model(x), y)


def test_all_parameters_real_and_gradients_flow(columns):
    x, y = columns
    model = SarSSM(**TINY, use_selectivity=True, range_conditioning=True)
    assert all(not p.is_complex() for p in model.parameters())
    loss = (model(x) - y).abs().pow(2).mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_selectivity_adds_gate_parameters():
    with_gate = count_params(SarSSM(**TINY, use_selectivity=True, gate_layers="all"))
    without = count_params(SarSSM(**TINY, use_selectivity=False))
    per_layer = 4 * 8 * 2 + (11 * 32 + 32) + (32 * 2 + 2)  # bias-free projection, hidden (8 + 3 inputs), out
    assert with_gate - without == 2 * per_layer
    assert count_params(SarSSM(**TINY, use_selectivity=True, gate_width=0)) == without


@pytest.mark.parametrize("placement,expected", [("all", ["0", "1", "2"]), ("last", ["2"]), ("not_first", ["1", "2"])])
def test_gate_placement_and_size(placement, expected):
    model = SarSSM(
        **{**TINY, "num_layers": 3}, use_selectivity=True, gate_layers=placement, gate_width=3, gate_hidden=5
    )
    assert sorted(model.gates) == expected
    assert count_params(model.gates[expected[0]]) == 4 * 3 * 2 + (6 * 5 + 5) + (5 * 2 + 2)


def _randomise_gates(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for gate in model.gates.values():
            gate.out.weight.copy_(torch.randn(gate.out.weight.shape, generator=g))
            gate.out.bias.copy_(torch.randn(gate.out.bias.shape, generator=g))


@pytest.mark.parametrize("activation", ["identity", "modrelu"])
def test_phase_equivariance_with_active_gates(columns, activation):
    """x e^{j phi} -> y e^{j phi}: the stream carries the line only and gates see magnitudes."""
    x, _ = columns
    torch.manual_seed(1)
    model = SarSSM(**TINY, use_selectivity=True, activation=activation, norm="layer").eval()
    _randomise_gates(model)
    turned = x.clone()
    turned[..., 0] *= torch.exp(torch.tensor(1.1j))
    with torch.no_grad():
        y = model(x)
        gains = [g(torch.randn(2, 8, 4, dtype=torch.complex64), torch.rand(2, 8, 3)) for g in model.gates.values()]
        torch.testing.assert_close(model(turned), y * torch.exp(torch.tensor(1.1j)), rtol=1e-4, atol=1e-4)
    assert all(float(g.std()) > 0.01 for g in gains)  # the gates are really acting


def test_gates_start_as_the_identity(columns):
    x, _ = columns
    torch.manual_seed(2)
    gated = SarSSM(**TINY, use_selectivity=True).eval()
    plain = SarSSM(**TINY, use_selectivity=False).eval()
    plain.load_state_dict({k: v for k, v in gated.state_dict().items() if not k.startswith("gates.")})
    with torch.no_grad():
        torch.testing.assert_close(gated(x), plain(x))


def test_scale_equivariance(columns):
    x, _ = columns
    model = SarSSM(**TINY, use_selectivity=True).eval()
    _randomise_gates(model)
    scaled = x.clone()
    scaled[..., 0] *= 7.0
    with torch.no_grad():
        torch.testing.assert_close(model(scaled), 7.0 * model(x), rtol=1e-4, atol=1e-4)


def test_zero_input_gives_finite_output():
    x = torch.zeros(2, 64, 2, dtype=torch.complex64)
    for preset in ("tiny", "ultra"):
        out = SarSSM(**{**MODEL_PRESETS[preset], "state_dim": 8}, range_conditioning=True)(x)
        assert torch.isfinite(torch.view_as_real(out)).all()


def test_seed_presets_build_and_shrink():
    sizes = {name: count_params(SarSSM(**cfg)) for name, cfg in MODEL_PRESETS.items()}
    assert sizes["teacher"] > sizes["standard"] > sizes["compressed"] > sizes["tiny"] > sizes["ultra"]


def test_bad_input_shape_is_a_clear_error():
    model = SarSSM(**TINY)
    with pytest.raises(ValueError, match=r"\(B, L, 2\)"):
        model(torch.zeros(2, 64, 3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="complex"):
        model(torch.zeros(2, 64, 2))


def test_fast_and_reference_models_agree(columns):
    x, _ = columns
    torch.manual_seed(0)
    fast = SarSSM(**TINY, kernel="fast").eval()
    ref = SarSSM(**TINY, kernel="reference").eval()
    ref.load_state_dict(fast.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fast(x), ref(x), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("grad", [True, False])
def test_edge_gates_leave_the_valid_region_to_the_ungated_layers(grad):
    """gate_region edges: a gated layer adds nothing where the whole aperture is inside the column, so
    there the model equals itself with those layers' gates closed; at the edges the gates act."""
    from kdssm.geometry import PRESETS
    from kdssm.metrics import valid_mask

    x, _ = simulate("mini", 6, seed=5)  # (6, L, 2) complex64
    geometry = PRESETS["mini"].geometry().to_dict()
    torch.manual_seed(0)
    model = SarSSM(model_dim=3, state_dim=16, num_layers=3, gate_region="edges", geometry=geometry).eval()
    with torch.no_grad():
        for gate in model.gates.values():
            gate.out.weight.normal_(0.0, 0.5)
            gate.out.bias.copy_(torch.tensor([0.7, 0.3]))
    closed = SarSSM(model.config, initialise=False).eval()
    closed.load_state_dict(model.state_dict())
    with torch.no_grad():
        for gate in closed.gates.values():
            gate.set_constant(0.0)
    with torch.set_grad_enabled(grad):
        y, y_closed = model(x).detach(), closed(x).detach()  # (6, L, 1) complex64
    inside = valid_mask(x, "mini")[..., None]  # (6, L, 1) bool
    torch.testing.assert_close(y[inside], y_closed[inside], rtol=1e-5, atol=1e-6 * float(y.abs().max()))
    edges = ~inside
    assert float((y[edges] - y_closed[edges]).abs().max()) > 1e-3 * float(y.abs().max())  # the gates act there
