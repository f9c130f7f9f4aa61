"""sarSSM: input projection, residual complex S4D layers, optional selectivity gate, output projection."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from .complex import ComplexLayerNorm, ComplexLinear
from .s4d import SSM_PARAMETER_NAMES, S4DBlock


class SelectivityGate(nn.Module):
    """One gate in (0, 1) per time step: sigmoid(MLP(|w|, arg w / pi)), w a complex projection of
    the layer's input.

    The projection lets a gate pick the directions of the residual stream it listens to (for
    instance the position in the column, which earlier layers expose through their boundaries)
    rather than every channel's magnitude, which is mostly signal.
    """

    def __init__(self, channels: int, hidden: int, width: int = 8):
        super().__init__()
        self.proj = ComplexLinear(channels, width)
        self.hidden = nn.Linear(2 * width, hidden)
        self.out = nn.Linear(hidden, 1)
        # Start open and flat (sigmoid(3) = 0.95 everywhere): the layers first learn the linear
        # focusing, and the gate departs from constant only where that lowers the loss.
        nn.init.zeros_(self.out.weight)
        nn.init.constant_(self.out.bias, 3.0)

    def forward(self, u: torch.Tensor) -> torch.Tensor:  # (B, L, H) complex64
        w = self.proj(u)  # (B, L, width) complex64
        feats = torch.cat([torch.log1p(w.abs()), w.angle() / torch.pi], dim=-1)  # (B, L, 2 width) float32
        return torch.sigmoid(self.out(F.gelu(self.hidden(feats))))  # (B, L, 1) float32


class SarSSM(nn.Module):
    """Maps x (B, L, 2) complex64 [raw line, p] to the focused line (B, L, 1) complex64."""

    def __init__(self, **kwargs):
        super().__init__()
        self.config = ModelConfig.from_dict(kwargs)
        cfg = self.config
        h = cfg.model_dim
        self.input_proj = ComplexLinear(cfg.input_dim, h)
        self.norms = nn.ModuleList(
            ComplexLayerNorm(h) if cfg.norm == "layer" else nn.Identity() for _ in range(cfg.num_layers))
        self.layers = nn.ModuleList(
            S4DBlock(h, cfg.state_dim, activation=cfg.activation, dropout=cfg.dropout,
                     bidirectional=cfg.bidirectional, range_conditioning=cfg.range_conditioning,
                     range_grid=cfg.range_grid, dt_min=cfg.dt_min, dt_max=cfg.dt_max, kernel=cfg.kernel)
            for _ in range(cfg.num_layers))
        self.gates = nn.ModuleList(
            SelectivityGate(h, cfg.gate_hidden) for _ in range(cfg.num_layers)) if cfg.use_selectivity else None
        self.output_proj = ComplexLinear(h, cfg.output_dim)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        """x (B, L, 2) complex64 -> y (B, L, 1) complex64 [, per-layer features, each (B, L, H)]."""
        if x.dim() != 3 or x.shape[-1] != self.config.input_dim or not x.is_complex():
            raise ValueError(f"expected complex x of shape (B, L, {self.config.input_dim}), "
                             f"got {tuple(x.shape)} {x.dtype}")
        line, pos = x[..., 0], x[..., 1]  # (B, L) complex64 each
        p = pos.real.mean(dim=1)  # (B,) float32, constant along a column
        if self.config.scale_equivariant:  # focusing is linear: predict on unit-rms columns
            scale = line.abs().pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(1e-6)  # (B, 1)
            line = line / scale
        u = self.input_proj(torch.stack([line, pos], dim=-1))  # (B, L, H) complex64
        features = []
        for i, (norm, layer) in enumerate(zip(self.norms, self.layers)):
            v = norm(u)
            update = layer(v, p)  # (B, L, H) complex64
            if self.gates is not None:
                update = update * self.gates[i](v)  # (B, L, 1) gate per time step
            u = u + update
            features.append(u)
        y = self.output_proj(u)  # (B, L, 1) complex64
        if self.config.scale_equivariant:
            y = y * scale.unsqueeze(-1)
        return (y, features) if return_features else y


def count_params(model: nn.Module) -> int:
    """Real scalars in the model (a complex weight counts twice: it is stored as a real view)."""
    return sum(p.numel() for p in model.parameters())


def parameter_groups(model: nn.Module) -> tuple[list, list]:
    """(ssm dynamics parameters, all others) for separate learning rates and weight decay."""
    ssm, other = [], []
    for name, param in model.named_parameters():
        (ssm if name.rsplit(".", 1)[-1] in SSM_PARAMETER_NAMES else other).append(param)
    return ssm, other
