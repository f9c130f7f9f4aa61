"""The inference implementation (kdssm/inference) equals the reference, SarSSM.forward, for every option:
activations, gates (which layers, where they act), norms, range conditioning, one- or two-sided kernels,
scale equivariance, a known or unknown geometry; the complex path at any length, with features; the
real-view twin at its tile length, FFT sizes a power of two or not; reduced precision close to it."""

import itertools

import pytest
import torch

from kdssm import metrics
from kdssm.data import simulate
from kdssm.deploy.precision import reduce_precision
from kdssm.geometry import PRESETS
from kdssm.inference import InferenceModel, block_linear, complex_mul, freeze, infer
from kdssm.models import SarSSM
from kdssm.models.complex import ComplexLinear

MINI = PRESETS["mini"].geometry().to_dict()
ACTIVATIONS = ("identity", "modrelu", "gelu", "tanh", "silu")
GATES = {  # name: the gate fields of ModelConfig
    "no gate": dict(use_selectivity=False),
    "all": dict(gate_layers="all", gate_width=2, gate_hidden=4),
    "last": dict(gate_layers="last", gate_width=3, gate_hidden=5),
    "not_first": dict(gate_layers="not_first", gate_width=2, gate_hidden=4),
    "not_first at edges": dict(gate_layers="not_first", gate_width=2, gate_hidden=4, gate_region="edges"),
}
NORMS = ("none", "layer")
OTHER = {  # options beside activation, gate and norm, each on a gated model
    "no range conditioning": dict(range_conditioning=False, init="random"),
    "one-sided": dict(bidirectional=False, init="random"),
    "no scale equivariance": dict(scale_equivariant=False),
    "aperture gain": dict(aperture_gain=True, range_points_per_aperture=4),
    "valid shrink": dict(valid_shrink=True, gate_region="edges"),
    "valid shrink, targets": dict(valid_shrink=True, shrink_targets=True, gate_region="edges"),
    "unknown geometry": dict(geometry=None),
}
CASES = {
    **{
        f"{act}, {gate}, norm {norm}": dict(activation=act, norm=norm, **GATES[gate])
        for act, gate, norm in itertools.product(ACTIVATIONS, GATES, NORMS)
    },
    **{name: dict(activation="modrelu", **GATES["not_first"], **opts) for name, opts in OTHER.items()},
}


def model_of(options: dict) -> SarSSM:
    """A small trained-looking model: gates, mixing, norm gains and modReLU biases away from their start."""
    torch.manual_seed(0)
    kwargs = dict(model_dim=3, state_dim=16, num_layers=3, dropout=0.1, geometry=MINI) | options
    model = SarSSM(**kwargs).eval()
    with torch.no_grad():
        for gate in model.gates.values():
            gate.out.weight.normal_(0.0, 0.3)
        for layer in model.layers:
            layer.mix.weight.add_(0.05 * torch.randn_like(layer.mix.weight))
            if layer.activation.bias is not None:
                layer.activation.bias.normal_(0.0, 0.2)
        for norm in model.norms:
            if hasattr(norm, "gain"):
                norm.gain.add_(0.1 * torch.randn_like(norm.gain))
        if model.shrink is not None:
            model.shrink.out.weight.normal_(0.0, 0.3)
    return model


def columns(batch: int = 5, length: int = 256) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    raw = torch.randn(batch, length, dtype=torch.complex64, generator=g) * 3.0
    t = torch.arange(length) - (length - 1) / 2 - 0.3  # a bright chirp mid-column: something to focus
    raw += 10.0 * torch.exp(-1j * torch.pi * 0.006 * t**2).to(torch.complex64) * (t.abs() < 45)
    p = torch.linspace(0.0, 1.0, batch)[:, None].expand(batch, length)
    return torch.stack([raw, p.to(torch.complex64)], dim=-1)  # (B, L, 2)


def reference(model: SarSSM, x: torch.Tensor):
    """SarSSM.forward, differentiated as in training (grad on), eval mode: the values to match."""
    y, features = model(x, return_features=True)
    return y.detach(), [f.detach() for f in features]


def close(got: torch.Tensor, want: torch.Tensor) -> None:
    torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6 * float(want.abs().max()))


@pytest.mark.parametrize("case", sorted(CASES))
def test_complex_inference_equals_the_reference(case):
    model, x = model_of(CASES[case]), columns()
    want, want_features = reference(model, x)
    got, got_features = infer(model, x, return_features=True)
    close(got, want)
    assert len(got_features) == len(want_features) == 3
    for mine, theirs in zip(got_features, want_features):
        close(mine, theirs)
    assert not got.requires_grad
    close(InferenceModel(model)(x[:, :200]), reference(model, x[:, :200])[0])  # any length, the module too


def real_view(frozen, x: torch.Tensor) -> torch.Tensor:
    return torch.view_as_complex(frozen(torch.view_as_real(x).contiguous()).contiguous())


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("power_of_two", [False, True])
def test_real_view_twin_equals_the_reference(case, power_of_two):
    model, x = model_of(CASES[case]), columns()
    want, _ = reference(model, x)
    with torch.no_grad():
        got = real_view(freeze(model, 256, power_of_two), x)
    assert float((got - want).abs().norm() / want.abs().norm()) < 1e-5


def test_the_reference_never_switches_path():
    """SarSSM.forward is one function in every state: no grad, eval or autocast sends it elsewhere (the
    reference's no-grad output is the graph-building one's, and both build kernels from the parameters)."""
    model, x = model_of(CASES["modrelu, all, norm layer"]), columns()
    want, _ = reference(model, x)
    with torch.no_grad():
        torch.testing.assert_close(model(x), want, rtol=0, atol=0)
    assert all(not layer.conv._cache for layer in model.layers)  # the inference cache was never filled
    infer(model, x)
    assert all(layer.conv._cache for layer in model.layers)


def test_dropout_does_not_act_in_inference():
    model, x = model_of(CASES["identity, no gate, norm none"]).train(), columns()
    torch.testing.assert_close(infer(model, x), reference(model.eval(), x)[0], rtol=1e-5, atol=1e-5)


def test_block_linear_is_the_complex_product():
    torch.manual_seed(0)
    lin = ComplexLinear(3, 5, bias=False)
    z = torch.randn(7, 3, dtype=torch.complex64)
    real = block_linear(lin.weight.detach())(torch.view_as_real(z).flatten(-2))  # (7, 10) interleaved
    got = torch.view_as_complex(real.unflatten(-1, (-1, 2)))
    assert torch.allclose(got, lin(z).detach(), atol=1e-6)
    a, b = torch.randn(4, dtype=torch.complex64), torch.randn(4, dtype=torch.complex64)
    assert torch.allclose(torch.view_as_complex(complex_mul(torch.view_as_real(a), torch.view_as_real(b))), a * b)


@pytest.mark.parametrize("precision, worst_db", [("bf16", -30.0), ("fp16", -45.0), ("int8-dynamic", -25.0)])
@pytest.mark.parametrize("case", ["modrelu, last, norm none", "silu, not_first at edges, norm layer"])
def test_reduced_precision_is_close_to_the_reference_but_not_identical(precision, worst_db, case):
    model = model_of(CASES[case])
    x, _ = simulate("mini", 16, seed=5)
    want, _ = reference(model, x)
    with torch.no_grad():
        got = real_view(reduce_precision(freeze(model, 256), precision), x)
    change_db = metrics.nmse_db(got, want)
    assert change_db < worst_db  # close to fp32
    assert change_db > -140  # but really computed at another precision


def test_int8_leaves_the_stream_in_float32():
    """Only the gates' layers are quantised (precision.py says why); a model without gates is unchanged."""
    q = reduce_precision(freeze(model_of(CASES["identity, last, norm none"]), 256), "int8-dynamic")
    quantised = {
        name.rsplit(".", 1)[-1]
        for name, m in q.named_modules()
        if type(m).__module__.endswith("quantized.dynamic.modules.linear")
    }
    assert quantised == {"gate_proj", "gate_hidden", "gate_out"}
    plain = freeze(model_of(CASES["identity, no gate, norm none"]), 256)
    assert reduce_precision(plain, "int8-dynamic") is plain
