"""The inference forward of a sarSSM: the same function as SarSSM.forward, computed channels-first.

Used when nothing is differentiated (no grad, eval mode, no autocast, no norm): deployment, validation
and the teacher's cached outputs. It returns the autograd forward's values to float32 rounding
(tests/models/test_lean.py) with fewer passes over memory:
- the stream is kept as (B, H, L), so every FFT runs along contiguous lines and nothing is transposed
  between layers; mixing and projections are (H_out, H_in) @ (B, H_in, L) products;
- magnitudes are sqrt(re^2 + im^2) in three passes (torch's complex abs is a slower hypot), the
  column's power the sum of the real view's squares;
- a gate's hidden layer splits W [m; pos] + b = W_m m + (W_pos pos + b), so no feature tensor is
  concatenated;
- a layer whose gate acts at the edges only (gate_region edges) adds nothing elsewhere: its activation,
  mixing and gate run on the samples within half an aperture of either end (8-10 % of a 1,000-sample
  line), its convolution still on the whole line.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .complex import modrelu, power
from .gate import edge_mask, position_features


def uses_lean_forward(model: nn.Module, x: torch.Tensor) -> bool:
    """Whether this call may take the lean path: nothing differentiated, no dropout, no autocast, no norm."""
    if model.training or x.requires_grad or torch.is_autocast_enabled(x.device.type):
        return False
    if model.config.norm != "none":
        return False
    return not torch.is_grad_enabled() or not any(q.requires_grad for q in model.parameters())


def _magnitude(z: torch.Tensor) -> torch.Tensor:
    """|z| of complex z as float32: sqrt(re^2 + im^2) in three passes, 2.4x faster than complex abs here
    (within 1.2e-7 relative of it; no overflow at the stream's unit rms)."""
    return torch.addcmul(z.real * z.real, z.imag, z.imag).sqrt_()


def _apply(w: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """w (O, K) @ u (B, K, L) -> (B, O, L), real or complex. A small w (K <= 3, or O K <= 16) as K
    broadcast products: a batched matmul over so few terms costs more in copies than in arithmetic
    (measured here: 2-4x at B 64, L 1000)."""
    out_features, terms = w.shape
    if terms > 3 and out_features * terms > 16:
        return torch.matmul(w, u)
    out = u[:, :1] * w[None, :, 0, None]  # (B, O, L)
    for k in range(1, terms):
        out.addcmul_(u[:, k : k + 1], w[None, :, k, None])
    return out


def _mix(weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """A ComplexLinear's (out, in) real-view weight applied to channels-first u (B, in, L) -> (B, out, L)."""
    return _apply(torch.view_as_complex(weight), u)


def _activation(act: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """ComplexActivation on channels-first z (B, H, L): elementwise, only modReLU's per-channel bias
    needs the channel axis."""
    if act.kind == "modrelu":
        return modrelu(z, act.bias[:, None])
    return act(z)


def _gate(gate: nn.Module, v: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """SelectivityGate on channels-first v (B, H, L) with position (B, 3, L) -> gain (B, 1, L) complex64."""
    magnitudes = torch.log1p(_magnitude(_mix(gate.proj.weight, v)))  # (B, width, L) float32
    width = magnitudes.shape[1]
    w = gate.hidden.weight  # (hidden, width + 3)
    hidden = _apply(w[:, :width], magnitudes).add_(_apply(w[:, width:], position))  # (B, hidden, L)
    hidden.add_(gate.hidden.bias[:, None])
    out = _apply(gate.out.weight, F.gelu(hidden)).add_(gate.out.bias[:, None])  # (B, 2, L)
    if gate.edges_only:
        out = out * edge_mask(position.transpose(1, 2)).unsqueeze(1)  # (B, 2, L)
    return torch.complex(out[:, 0], out[:, 1]).unsqueeze(1)  # (B, 1, L)


def _edge_width(position: torch.Tensor) -> int | None:
    """The most samples at either end of a column in this batch with part of the aperture outside
    (position (B, 3, L)); None when the two ends would overlap (then the gates run on whole lines)."""
    width = int((position[:, :2] < 1.0).sum(dim=-1).max())  # e_left (B, L) and e_right: each end's count
    return width if 2 * width < position.shape[-1] else None


def _edges(t: torch.Tensor, width: int) -> torch.Tensor:
    """The first and last `width` samples of (B, C, L) lines side by side: (B, C, 2 width)."""
    return torch.cat([t[..., :width], t[..., t.shape[-1] - width :]], dim=-1)


def _add_at_edges(u, update_edges, layer, gate, u_edges, position_edges) -> torch.Tensor:
    """u plus a layer whose gate acts at the edges only: activation, mixing and gate run on the edge
    samples alone (the gain is 0 elsewhere, so nothing else changes)."""
    delta = _mix(layer.mix.weight, _activation(layer.activation, update_edges))  # (B, H, 2 w)
    delta = delta * _gate(gate, u_edges, position_edges)
    width = delta.shape[-1] // 2
    out = u.clone()
    out[..., :width] += delta[..., :width]
    out[..., u.shape[-1] - width :] += delta[..., width:]
    return out


@torch.no_grad()
def lean_forward(model: nn.Module, x: torch.Tensor, return_features: bool = False):
    """x (B, L, 2) complex64 -> y (B, L, 1) complex64 [, features, each (B, L, H)], as SarSSM.forward."""
    cfg = model.config
    line = x[..., 0]  # (B, L) complex64
    p = x[..., 1].real.mean(dim=1)  # (B,) float32
    if cfg.scale_equivariant:
        scale = power(line).mean(dim=1, keepdim=True).sqrt().clamp_min(1e-6)  # (B, 1)
        line = line / scale
    u = line.unsqueeze(1) * torch.view_as_complex(model.input_proj.weight)[None, :, :]  # (B, H, L) complex64
    position = None
    if len(model.gates):
        position = position_features(p, x.shape[1], model.geometry).transpose(1, 2).contiguous()  # (B, 3, L)
    edge = _edge_width(position) if any(g.edges_only for g in model.gates.values()) else None
    features = []
    for i, layer in enumerate(model.layers):
        update = layer.conv.forward_channels_first(u, p)  # (B, H, L)
        gate = model.gates[str(i)] if str(i) in model.gates else None
        if gate is not None and gate.edges_only and edge is not None:
            u = _add_at_edges(u, _edges(update, edge), layer, gate, _edges(u, edge), _edges(position, edge))
        else:
            update = _mix(layer.mix.weight, _activation(layer.activation, update))
            if gate is not None:
                update = update * _gate(gate, u, position)
            u = u + update
        if return_features:
            features.append(u.transpose(1, 2))  # (B, L, H)
    y = _mix(model.output_proj.weight, u).transpose(1, 2)  # (B, L, 1) complex64
    if cfg.scale_equivariant:
        y = y * scale.unsqueeze(-1)
    return (y, features) if return_features else y
