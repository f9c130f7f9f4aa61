"""The lean inference forward (lean.py) is SarSSM.forward: the same outputs and features as the autograd
path, for every layer option it takes; options it does not take fall back to the autograd path."""

import pytest
import torch

from kdssm.geometry import PRESETS
from kdssm.models import SarSSM
from kdssm.models.lean import uses_lean_forward

MINI = PRESETS["mini"].geometry().to_dict()
CASES = {
    "plain": dict(use_selectivity=False),
    "gated_not_first": dict(gate_layers="not_first", gate_width=3, gate_hidden=5),
    "gated_all": dict(gate_layers="all", gate_width=2, gate_hidden=4),
    "gated_edges": dict(gate_layers="not_first", gate_width=2, gate_hidden=4, gate_region="edges"),
    "gated_last_modrelu": dict(gate_layers="last", activation="modrelu"),
    "gelu_no_scale": dict(use_selectivity=False, activation="gelu", scale_equivariant=False, init="random"),
    "no_geometry": dict(geometry=None, gate_width=2),
    "no_range_conditioning": dict(range_conditioning=False, init="random", gate_width=2),
}


def _model(case: str) -> SarSSM:
    torch.manual_seed(0)
    kwargs = dict(model_dim=3, state_dim=16, num_layers=3, dropout=0.0, geometry=MINI) | CASES[case]
    model = SarSSM(**kwargs).eval()
    with torch.no_grad():  # gates away from their constant start, so their features count
        for gate in model.gates.values():
            gate.out.weight.normal_(0.0, 0.3)
    return model


def _columns(batch: int = 5, length: int = 256) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    raw = torch.randn(batch, length, dtype=torch.complex64, generator=g) * 3.0
    p = torch.linspace(0.0, 1.0, batch)[:, None].expand(batch, length)
    return torch.stack([raw, p.to(torch.complex64)], dim=-1)  # (B, L, 2)


@pytest.mark.parametrize("case", sorted(CASES))
def test_lean_forward_equals_the_autograd_forward(case):
    model, x = _model(case), _columns()
    with torch.no_grad():
        assert uses_lean_forward(model, x)
        lean, lean_features = model(x, return_features=True)
    assert uses_lean_forward(model, x) is False  # grad on, parameters want it: the autograd path
    full, full_features = model(x, return_features=True)
    full, full_features = full.detach(), [f.detach() for f in full_features]
    scale = float(full.abs().max())
    torch.testing.assert_close(lean, full, rtol=1e-5, atol=2e-6 * scale)
    assert len(lean_features) == len(full_features) == 3
    for mine, theirs in zip(lean_features, full_features):
        assert mine.shape == theirs.shape
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=2e-6 * float(theirs.abs().max()))


def test_training_norms_and_autocast_take_the_autograd_path():
    model, x = _model("plain"), _columns()
    with torch.no_grad():
        model.train()
        assert not uses_lean_forward(model, x)  # dropout acts in training
        model.eval()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not uses_lean_forward(model, x)  # mixed precision keeps its own casts
    normed = SarSSM(model_dim=2, state_dim=8, num_layers=1, norm="layer", init="random").eval()
    with torch.no_grad():
        assert not uses_lean_forward(normed, x)
