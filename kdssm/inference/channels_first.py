"""The inference implementation of a sarSSM in complex arithmetic: SarSSM.forward's function (eval mode),
computed channels-first, for any column length.

Called by name, never chosen from grad or eval state: validation, the teacher's cached outputs, every
score and latency (evaluate.py), `kdssm focus` at fp32 and the MLflow pyfunc model run `infer(model, x)`
or an `InferenceModel(model)`. It returns the reference's values to float32 rounding
(tests/inference/test_inference.py, every option) with fewer passes over memory:
- the stream is kept as (B, H, L), so every FFT runs along contiguous lines and nothing is transposed
  between layers; mixing and projections are (H_out, H_in) @ (B, H_in, L) products;
- magnitudes are sqrt(re^2 + im^2) in three passes (torch's complex abs is a slower hypot), the
  column's power the sum of the real view's squares;
- a gate's hidden layer splits W [m; pos] + b = W_m m + (W_pos pos + b), so no feature tensor is
  concatenated;
- each layer's kernels are read from its cached grid spectra (S4DConv.grid_spectra, the rows built on first
  need per column length and rebuilt when a parameter changes), weighted in place per column;
- a layer whose gate acts at the edges only (gate_region edges) adds nothing elsewhere: its activation,
  mixing and gate run on the samples within half an aperture of either end (8-10 % of a 1,000-sample
  line), its convolution still on the whole line.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config.model import INPUT_CHANNELS
from ..models.complex import line_scale, modrelu, power
from ..models.gate import edge_mask, position_features


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


def convolve(conv: nn.Module, u: torch.Tensor, p: torch.Tensor | None) -> torch.Tensor:
    """An S4DConv on channels-first lines, u (B, H, L) complex64 -> K_p * u + D u (B, H, L) complex64:
    the FFTs along contiguous lines, the cached grid spectra weighted in place, the product in place, D
    by addcmul."""
    length = u.shape[-1]
    if len(conv.grid) > 1 and p is None:
        raise ValueError("a range-conditioned S4D layer needs the positional encoding p")
    idx, w = conv.grid.locate(p) if len(conv.grid) > 1 else (None, None)  # (B, 2) int64, (B, 2) float32
    rows, slot = conv.grid_spectra(length, None if idx is None else idx.flatten())  # (R, H, N), (G,): cached
    # padded first: torch's own padding for fft(n=N) costs about twice the transform
    u_f = torch.fft.fft(F.pad(u, (0, rows.shape[-1] - length)))  # (B, H, N)
    if idx is None:
        u_f.mul_(rows)  # the one grid point, (1, H, N)
    else:
        idx = slot[idx.to(slot.device)]  # (B, 2): rows of the two grid points
        w = w.to(u.dtype)[:, :, None, None]  # (B, 2, 1, 1) complex64
        spectrum = rows.index_select(0, idx[:, 0]).mul_(w[:, 0])  # (B, H, N)
        spectrum.addcmul_(rows.index_select(0, idx[:, 1]), w[:, 1])
        u_f.mul_(spectrum)
    y = torch.fft.ifft(u_f)[..., :length]  # (B, H, L)
    return torch.addcmul(y, u, torch.view_as_complex(conv.d)[:, None])


def _normalise(norm: nn.Module, u: torch.Tensor) -> torch.Tensor:
    """ComplexLayerNorm (or the identity) over the channel axis of channels-first u (B, H, L)."""
    if isinstance(norm, nn.Identity):
        return u
    z = u - u.mean(dim=1, keepdim=True)
    rms = power(z).mean(dim=1, keepdim=True).add(norm.eps).sqrt()  # (B, 1, L) float32
    return z / rms * torch.view_as_complex(norm.gain)[:, None]


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


def _add_at_edges(u, update_edges, layer, gate, v_edges, position_edges) -> torch.Tensor:
    """u plus a layer whose gate acts at the edges only: activation, mixing and gate (on the normed
    stream v) run on the edge samples alone (the gain is 0 elsewhere, so nothing else changes)."""
    delta = _mix(layer.mix.weight, _activation(layer.activation, update_edges))  # (B, H, 2 w)
    delta = delta * _gate(gate, v_edges, position_edges)
    width = delta.shape[-1] // 2
    out = u.clone()
    out[..., :width] += delta[..., :width]
    out[..., u.shape[-1] - width :] += delta[..., width:]
    return out


@torch.no_grad()
def infer(model: nn.Module, x: torch.Tensor, return_features: bool = False):
    """x (B, L, 2) complex64 -> y (B, L, 1) complex64 [, features, each (B, L, H)]: SarSSM.forward of
    `model` as in eval mode (no dropout), without gradients, autocast off (complex64, FFTs in fp32)."""
    if x.dim() != 3 or x.shape[-1] != INPUT_CHANNELS or not x.is_complex():
        raise ValueError(f"expected complex x of shape (B, L, {INPUT_CHANNELS}), got {tuple(x.shape)} {x.dtype}")
    with torch.autocast(device_type=x.device.type, enabled=False):
        return _infer(model, x.to(torch.complex64), return_features)


def _infer(
    model: nn.Module,
    x: torch.Tensor,
    return_features: bool,
    position: torch.Tensor | None = None,
    scale: torch.Tensor | None = None,
):
    """infer() of x; a window of a longer line (folded.py) passes that line's `position` features
    (B, 3, L) float32 of the window's samples and its `scale` (B, 1)."""
    cfg = model.config
    line = x[..., 0]  # (B, L) complex64
    p = x[..., 1].real.mean(dim=1)  # (B,) float32
    if cfg.scale_equivariant:
        scale = line_scale(line) if scale is None else scale  # (B, 1)
        line = line / scale
    u = line.unsqueeze(1) * torch.view_as_complex(model.input_proj.weight)[None, :, :]  # (B, H, L) complex64
    if model.reads_position and position is None:
        position = position_features(p, x.shape[1], model.geometry).transpose(1, 2).contiguous()  # (B, 3, L)
    edge = _edge_width(position) if any(g.edges_only for g in model.gates.values()) else None
    features = []
    for i, (norm, layer) in enumerate(zip(model.norms, model.layers)):
        v = _normalise(norm, u)  # (B, H, L)
        update = convolve(layer.conv, v, p)  # (B, H, L)
        gate = model.gates[str(i)] if str(i) in model.gates else None
        if gate is not None and gate.edges_only and edge is not None:
            u = _add_at_edges(u, _edges(update, edge), layer, gate, _edges(v, edge), _edges(position, edge))
        else:
            update = _mix(layer.mix.weight, _activation(layer.activation, update))
            if gate is not None:
                update = update * _gate(gate, v, position)
            u = u + update
        if return_features:
            features.append(u.transpose(1, 2))  # (B, L, H)
    y = _mix(model.output_proj.weight, u).transpose(1, 2)  # (B, L, 1) complex64
    if model.shrink is not None:
        y = model.shrink(y[..., 0], line, p, position.transpose(1, 2)).unsqueeze(-1)  # (B, L, 1)
    if cfg.scale_equivariant:
        y = y * scale.unsqueeze(-1)
    return (y, features) if return_features else y


class InferenceModel(nn.Module):
    """A trained SarSSM behind its inference implementation: forward(x[, return_features]) is infer(). It
    shares the model's parameters (built on purpose, no copy); config and geometry are the model's."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model.eval()
        self.config, self.geometry = model.config, model.geometry

    def forward(self, x: torch.Tensor, return_features: bool = False):
        return infer(self.model, x, return_features)
