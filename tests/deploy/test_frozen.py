"""The frozen real-arithmetic twin equals the eager model; reduced precision stays close and differs."""

import pytest
import torch

from kdssm import metrics
from kdssm.data import simulate
from kdssm.deploy.frozen import block_linear, complex_mul, freeze
from kdssm.deploy.precision import reduce_precision
from kdssm.models.complex import ComplexLinear

from .models import gated_student, linear_student


def _run(frozen, x):
    return torch.view_as_complex(frozen(torch.view_as_real(x).contiguous()).contiguous())


def test_block_linear_is_the_complex_product():
    torch.manual_seed(0)
    lin = ComplexLinear(3, 5, bias=False)
    z = torch.randn(7, 3, dtype=torch.complex64)
    real = block_linear(lin.weight.detach())(torch.view_as_real(z).flatten(-2))  # (7, 10) interleaved
    got = torch.view_as_complex(real.unflatten(-1, (-1, 2)))
    assert torch.allclose(got, lin(z).detach(), atol=1e-6)
    a, b = torch.randn(4, dtype=torch.complex64), torch.randn(4, dtype=torch.complex64)
    assert torch.allclose(torch.view_as_complex(complex_mul(torch.view_as_real(a), torch.view_as_real(b))), a * b)


@pytest.mark.parametrize(
    "build",
    [
        linear_student,
        gated_student,
        lambda: gated_student("layer", "modrelu", "all"),
        lambda: gated_student("none", "gelu", "not_first"),
        lambda: gated_student("none", "identity", "last", "edges"),
    ],
)
@pytest.mark.parametrize("power_of_two", [False, True])
def test_frozen_twin_equals_eager(build, power_of_two):
    model = build()
    x, _ = simulate("mini", 16, seed=5)
    with torch.no_grad():
        want = model(x)
        got = _run(freeze(model, 256, power_of_two), x)
    assert float((got - want).abs().norm() / want.abs().norm()) < 1e-5


def test_frozen_twin_at_another_tile_length():
    model = gated_student()
    line = simulate("mini", 4, seed=6)[0][:, :200]  # tiles of 200 samples
    with torch.no_grad():
        want = model(line)
        got = _run(freeze(model, 200), line)
    assert float((got - want).abs().norm() / want.abs().norm()) < 1e-5


@pytest.mark.parametrize("precision, worst_db", [("bf16", -30.0), ("fp16", -45.0), ("int8-dynamic", -25.0)])
def test_reduced_precision_is_close_but_not_identical(precision, worst_db):
    model = gated_student()
    x, _ = simulate("mini", 16, seed=5)
    with torch.no_grad():
        want = model(x)
        got = _run(reduce_precision(freeze(model, 256), precision), x)
    change_db = metrics.nmse_db(got, want)
    assert change_db < worst_db  # close to fp32
    assert change_db > -140  # but really computed at another precision


def test_int8_leaves_the_stream_in_float32():
    """Only the gates' layers are quantised (precision.py says why); a model without gates is unchanged."""
    q = reduce_precision(freeze(gated_student(), 256), "int8-dynamic")
    quantised = {
        name.rsplit(".", 1)[-1]
        for name, m in q.named_modules()
        if type(m).__module__.endswith("quantized.dynamic.modules.linear")
    }
    assert quantised == {"gate_proj", "gate_hidden", "gate_out"}
    plain = freeze(linear_student(), 256)
    assert reduce_precision(plain, "int8-dynamic") is plain
