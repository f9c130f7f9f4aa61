"""Tiny trained-looking models for the deploy tests: matched-filter starts, gates made to act."""

import torch

from kdssm.checkpoint import save_model
from kdssm.geometry import PRESETS
from kdssm.models import SarSSM

MINI = PRESETS["mini"].geometry()


def linear_student() -> SarSSM:
    """No gate, identity activation: a linear, range-dependent filter (windowed kernels: tiles are exact)."""
    torch.manual_seed(0)
    return SarSSM(model_dim=4, state_dim=32, num_layers=2, use_selectivity=False, geometry=MINI.to_dict()).eval()


def gated_student(
    norm: str = "none",
    activation: str = "identity",
    gate_layers: str = "last",
    gate_region: str = "all",
    valid_shrink: bool = False,
    shrink_targets: bool = False,
) -> SarSSM:
    """A gated student whose gates, mixing (and shrink) are perturbed, so the model is not linear."""
    torch.manual_seed(1)
    model = SarSSM(
        model_dim=4,
        state_dim=32,
        num_layers=2,
        use_selectivity=True,
        gate_layers=gate_layers,
        gate_region=gate_region,
        gate_width=4,
        norm=norm,
        activation=activation,
        valid_shrink=valid_shrink,
        shrink_targets=shrink_targets,
        geometry=MINI.to_dict(),
    ).eval()
    if valid_shrink:
        with torch.no_grad():
            model.shrink.out.weight.normal_(0.0, 0.3)
    return made_to_act(model, gates=0.3, mixing=0.05)


def shrunk_student() -> SarSSM:
    """An edge-gated student with a valid-region shrink (point targets subtracted first), gates and shrink
    made to act."""
    return gated_student(gate_layers="not_first", gate_region="edges", valid_shrink=True, shrink_targets=True)


def made_to_act(model: SarSSM, gates: float, mixing: float, skips: float = 0.0) -> SarSSM:
    """Perturb a fresh model's gate outputs, mixings and skips (these std devs) so it is not the linear start."""
    with torch.no_grad():
        for gate in model.gates.values():
            gate.out.weight.normal_(0.0, gates)
        for layer in model.layers:
            layer.mix.weight.add_(mixing * torch.randn_like(layer.mix.weight))
            if skips:
                layer.conv.d.add_(skips * torch.randn_like(layer.conv.d))
    return model


def saved(model: SarSSM, folder) -> str:
    """The model as a model.ckpt in `folder` (a run folder without config.yaml)."""
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, folder / "model.ckpt", "student")
    return str(folder)
