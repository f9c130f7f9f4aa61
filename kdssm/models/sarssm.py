"""sarSSM: input projection, residual complex S4D layers, optional selectivity gates, output projection.

The residual stream carries the raw line only: the input projection, the mixing layers and the
output projection have no bias and the positional encoding never enters the stream. The model is
therefore linear in the line apart from the gates, whose features are phase-invariant (gate.py),
so it is phase-equivariant: x e^{j phi} -> y e^{j phi}. The positional encoding p conditions the
kernels (range_grid.py) and the gates.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ConfigError, ModelConfig
from ..config.model import INPUT_CHANNELS, OUTPUT_CHANNELS
from ..geometry import Geometry
from .complex import ComplexLayerNorm, ComplexLinear, line_scale
from .gate import SelectivityGate, position_features
from .s4d import SSM_PARAMETER_NAMES, S4DBlock
from .valid_shrink import ValidShrink


class SarSSM(nn.Module):
    """Maps x (B, L, 2) complex64 [raw line, p] to the focused line (B, L, 1) complex64.

    `config` (default: ModelConfig()) with `overrides` (ModelConfig fields, e.g. `model_dim=8`) on top.
    With init matched_filter (auto: wherever the geometry allows) the untrained model already focuses
    (matched_init.py); `initialise=False` skips that fit when weights are about to be loaded.
    `kernel` "reference" builds the S4D kernels with the readable Vandermonde twin (tests), "fast" otherwise.
    """

    def __init__(
        self, config: ModelConfig | None = None, *, initialise: bool = True, kernel: str = "fast", **overrides
    ):
        super().__init__()
        base = config or ModelConfig()
        self.config = base.replace(**overrides) if overrides else base
        cfg = self.config
        self.geometry = Geometry.from_dict(cfg.geometry) if cfg.geometry is not None else None
        h = cfg.model_dim
        self.input_proj = ComplexLinear(1, h, bias=False)  # the raw line into the stream
        self.norms = nn.ModuleList(
            ComplexLayerNorm(h) if cfg.norm == "layer" else nn.Identity() for _ in range(cfg.num_layers)
        )
        self.layers = nn.ModuleList(
            S4DBlock(
                h,
                state_dim,
                activation=cfg.activation,
                dropout=cfg.dropout,
                bidirectional=cfg.bidirectional,
                range_conditioning=cfg.range_conditioning,
                range_grid=cfg.range_grid,
                geometry=self.geometry,
                points_per_aperture=cfg.range_points_per_aperture,
                aperture_gain=cfg.aperture_gain,
                dt_min=cfg.dt_min,
                dt_max=cfg.dt_max,
                kernel=kernel,
            )
            for state_dim in cfg.layer_state_dims
        )
        self.gates = nn.ModuleDict(
            {
                str(i): SelectivityGate(h, cfg.gate_hidden, cfg.gate_width, cfg.gate_region == "edges")
                for i in cfg.gated_layer_indices
            }
        )
        self.output_proj = ComplexLinear(h, OUTPUT_CHANNELS, bias=False)
        if cfg.valid_shrink and self.geometry is None:
            raise ConfigError("model.valid_shrink needs the acquisition geometry (a data preset or its six fields)")
        if cfg.shrink_targets and not cfg.valid_shrink:
            raise ConfigError("model.shrink_targets needs model.valid_shrink: targets are subtracted before the shrink")
        self.shrink = ValidShrink(self.geometry, targets=cfg.shrink_targets) if cfg.valid_shrink else None
        self.init_used, self.init_fit_db = "random", None  # what this model started from
        if initialise and cfg.init != "random":
            self._start_as_matched_filter(explicit=cfg.init == "matched_filter")

    def _start_as_matched_filter(self, explicit: bool) -> None:
        """matched_init.py; with init auto, a model that cannot start so keeps the random start."""
        from .matched_init import initialise_matched_filter

        blocker = self.config.matched_filter_blocker()
        if blocker:
            if explicit:
                raise ConfigError(f"model.init: matched_filter {blocker}")
            return
        try:
            self.init_fit_db = initialise_matched_filter(self)  # checks everything before writing
        except ConfigError:
            if explicit:
                raise
            return
        self.init_used = "matched_filter"

    @property
    def reads_position(self) -> bool:
        """Whether a gate or the valid-region shrink reads the samples' position features (gate.py)."""
        return len(self.gates) > 0 or self.shrink is not None

    def forward(self, x: torch.Tensor, return_features: bool = False):
        """x (B, L, 2) complex64 -> y (B, L, 1) complex64 [, per-layer features, each (B, L, H)].

        The readable reference (training runs it); a trained model runs through kdssm.inference instead."""
        if x.dim() != 3 or x.shape[-1] != INPUT_CHANNELS or not x.is_complex():
            raise ValueError(f"expected complex x of shape (B, L, {INPUT_CHANNELS}), got {tuple(x.shape)} {x.dtype}")
        line = x[..., 0]  # (B, L) complex64
        p = x[..., 1].real.mean(dim=1)  # (B,) float32, constant along a column
        if self.config.scale_equivariant:  # focusing is linear: predict on unit-rms columns
            scale = line_scale(line)  # (B, 1)
            line = line / scale
        u = self.input_proj(line.unsqueeze(-1))  # (B, L, H) complex64
        position = position_features(p, x.shape[1], self.geometry) if self.reads_position else None  # (B, L, 3)
        features = []
        for i, (norm, layer) in enumerate(zip(self.norms, self.layers)):
            v = norm(u)
            update = layer(v, p)  # (B, L, H) complex64
            gate = self.gates[str(i)] if str(i) in self.gates else None
            if gate is not None:
                update = update * gate(v, position)  # (B, L, 1) gain per time step
            u = u + update
            features.append(u)
        y = self.output_proj(u)  # (B, L, 1) complex64
        if self.shrink is not None:
            y = self.shrink(y[..., 0], line, p, position).unsqueeze(-1)  # (B, L, 1)
        if self.config.scale_equivariant:
            y = y * scale.unsqueeze(-1)
        return (y, features) if return_features else y


def count_params(model: nn.Module) -> int:
    """Real scalars in the model (a complex weight counts twice: it is stored as a real view)."""
    return sum(p.numel() for p in model.parameters())


def parameter_groups(model: nn.Module) -> tuple[list, list]:
    """(ssm dynamics parameters, all others) for separate learning rates and weight decay; frozen ones left out."""
    ssm, other = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (ssm if name.rsplit(".", 1)[-1] in SSM_PARAMETER_NAMES else other).append(param)
    return ssm, other


def freeze_focusing_path(model: SarSSM) -> None:
    """Fix what carries the matched-filter start to the output: the input projection, the first layer (its
    norm, kernels and mixing) and the output projection. With `gate_region: edges` the later layers add nothing
    where a column holds the whole aperture, so the valid region stays the filter's.

    Only a model that started as the matched filter (or was trained from one, or took a teacher's layers:
    distill/layer_init.py) has such a path to keep.
    """
    if model.init_used not in ("matched_filter", "teacher_layers"):
        raise ConfigError(
            "training.freeze_focus: the model did not start as the matched filter (model.init, model.state_dim), "
            "so it has no focusing path to keep"
        )
    if len(model.layers) < 2:
        raise ConfigError("training.freeze_focus: the model has no layer left to train (model.num_layers >= 2)")
    for module in (model.input_proj, model.norms[0], model.layers[0], model.output_proj):
        module.requires_grad_(False)
