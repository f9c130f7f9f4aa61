"""The folded model (inference/folded.py) equals infer() on whole lines, and refuses what it cannot fold."""

import re

import pytest
import torch

from kdssm.geometry import PRESETS
from kdssm.inference import infer
from kdssm.inference.folded import FoldedSarSSM, FoldError, choose_fold, fold_blocker
from kdssm.models import SarSSM

from ..deploy.models import made_to_act

MINI = PRESETS["mini"].geometry()

# the demo front's architectures (runs/demo/sweep: 232, 468, 748, 1354 parameters) and the demo teacher's
DEMO = {
    "linear 2/16/2": dict(model_dim=2, state_dim=16, num_layers=2, gate_layers="last", use_selectivity=False),
    "2/16/3 not_first": dict(model_dim=2, state_dim=16, num_layers=3, gate_layers="not_first", gate_width=1),
    "2/32/3 not_first": dict(model_dim=2, state_dim=32, num_layers=3, gate_layers="not_first", gate_width=4),
    "2/64/3 last": dict(model_dim=2, state_dim=64, num_layers=3, gate_layers="last", gate_width=8),
    "teacher 16/128/3": dict(model_dim=16, state_dim=128, num_layers=3, gate_layers="not_first", gate_width=8),
}


def model_of(scale_equivariant: bool = False, seed: int = 0, **dims) -> SarSSM:
    """An edge-gated mini model whose gates, mixings and skips are perturbed (trained-looking: not linear)."""
    torch.manual_seed(seed)
    model = SarSSM(
        geometry=MINI.to_dict(), gate_region="edges", scale_equivariant=scale_equivariant, dropout=0.0, **dims
    ).eval()
    return made_to_act(model, gates=0.5, mixing=0.1, skips=0.1)


def lines(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """(B, L, 2) complex64: bright targets on noise (the gates see large magnitudes), p across the swath."""
    g = torch.Generator().manual_seed(seed)
    line = torch.randn(batch, length, dtype=torch.complex64, generator=g)
    line[:, :: max(1, length // 7)] *= 30.0
    p = torch.linspace(0.0, 1.0, batch)
    return torch.stack([line, p[:, None].expand_as(line).to(line.dtype)], dim=-1)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().norm() / b.abs().norm())


@pytest.mark.parametrize("name", DEMO)
@pytest.mark.parametrize("scale_equivariant", [False, True])
def test_folded_equals_the_whole_line_forward(name, scale_equivariant):
    model = model_of(scale_equivariant, **DEMO[name])
    folded = FoldedSarSSM(model)
    for length in (700, 1500):  # both leave an interior: the ends through the model, the rest folded
        x = lines(9, length)
        assert folded.pays(length)
        want = infer(model, x)
        got = folded(x)
        assert got.shape == want.shape and got.dtype == torch.complex64
        assert relative(got, want) < 1e-5
        assert relative(got[:, :49], want[:, :49]) < 1e-5  # the gated ends alone
    # a gated model differs from its folded filter near the ends: the edge path is doing work
    if model.gates:
        spectrum = folded.spectra(x[:, 0, 1].real, 1500)
        linear = torch.fft.ifft(torch.fft.fft(x[..., 0], n=spectrum.shape[-1]) * spectrum)[:, :1500]
        assert relative(linear[:, :40], want[:, :40, 0]) > 1e-3
        assert relative(linear[:, 200:-200], want[:, 200:-200, 0]) < 1e-5


def test_short_lines_run_whole_through_the_model():
    model = model_of(**DEMO["2/32/3 not_first"])
    folded = FoldedSarSSM(model)
    x = lines(4, 256)  # mini columns: the two ends' windows cover them
    assert not folded.pays(256)
    assert relative(folded(x), infer(model, x)) < 1e-6


def test_the_folded_spectra_follow_the_parameters():
    model = model_of(**DEMO["teacher 16/128/3"])
    folded = FoldedSarSSM(model)
    x = lines(3, 900)
    before = folded(x)
    with torch.no_grad():
        model.layers[0].mix.weight.mul_(1.5)
    after = folded(x)
    assert relative(after, before) > 1e-2
    assert relative(after, infer(model, x)) < 1e-5


@pytest.mark.parametrize(
    "change, why",
    [
        (dict(gate_region="all"), "gates act on every sample"),
        (dict(norm="layer"), "normalise the stream"),
        (dict(activation="gelu"), "activation (gelu) is not linear"),
        (dict(valid_shrink=True), "valid-region shrink (model.valid_shrink)"),
    ],
)
def test_what_cannot_fold_says_why_and_what_runs_instead(change, why):
    dims = {**DEMO["2/16/3 not_first"], **change}
    torch.manual_seed(0)
    model = SarSSM(geometry=MINI.to_dict(), **{"gate_region": "edges", **dims}).eval()
    assert why in fold_blocker(model)
    with pytest.raises(FoldError, match=f"cannot fold.*{re.escape(why)}.*runs unfolded"):
        choose_fold(model, MINI, 4096, "yes")
    assert choose_fold(model, MINI, 4096, "auto") is None  # auto runs tiles, the figures say so


def test_fold_choices():
    model = model_of(**DEMO["2/16/3 not_first"])
    assert isinstance(choose_fold(model, MINI, 4096, "auto"), FoldedSarSSM)
    assert choose_fold(model, MINI, 4096, "no") is None
    assert choose_fold(model, MINI, 256, "auto") is None  # nothing to fold on a mini column
    assert isinstance(choose_fold(model, MINI, 256, "yes"), FoldedSarSSM)  # demanded: exact all the same
    with pytest.raises(FoldError, match="shorter than one aperture"):
        choose_fold(model, MINI, 60, "yes")
    with pytest.raises(FoldError, match="runs at fp32, not bf16"):
        choose_fold(model, MINI, 4096, "yes", "bf16")
    assert choose_fold(model, MINI, 4096, "auto", "bf16") is None


def test_what_deploys_is_what_focus_runs():
    """deployed(): the folded model where it folds and pays (latencies are measured through it)."""
    from kdssm.inference import InferenceModel, deployed

    model = model_of(**DEMO["2/16/3 not_first"])
    assert isinstance(deployed(model, 4096), FoldedSarSSM)
    assert isinstance(deployed(model, 256), InferenceModel)  # a mini column: nothing to fold
    gated_everywhere = SarSSM(geometry=MINI.to_dict(), **DEMO["2/16/3 not_first"]).eval()  # gate_region all
    assert isinstance(deployed(gated_everywhere, 4096), InferenceModel)


def test_latency_through_the_deployed_path_on_lines():
    """evaluate.deployed_latency: the columns as lines of a scene's length, timed beside the production filter."""
    from kdssm.data import simulate
    from kdssm.evaluate import deployed_latency, latency_lines

    x, _ = simulate("mini", 4, seed=3)
    lines = latency_lines(x, 1000)
    assert lines.shape == (4, 1000, 2) and torch.equal(lines[:, 256:512], x)  # repeated along azimuth
    assert torch.equal(lines[..., 1], x[:, :1, 1].expand(4, 1000))  # each column's p kept
    assert latency_lines(x, 0) is x
    model = model_of(**DEMO["2/16/3 not_first"])
    got = deployed_latency(model, x, "mini", 4096, batch=4)
    assert set(got) == {"latency_ms_per_column", "filter_ms_per_column", "latency_vs_filter"}
    assert got["latency_vs_filter"] > 0 and got["filter_ms_per_column"] > 0
