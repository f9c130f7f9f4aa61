"""The inference implementation in real arithmetic: a trained SarSSM frozen at one tile length.

The eager model builds its kernels from the SSM parameters on demand and computes in complex64.
Deployment wants neither: the kernels of a trained model never change, and ONNX has no complex
dtype (its exporter has no complex multiply). This twin

- bakes every layer's grid spectra for circular convolutions of length 2T into buffers
  (G, 2T, H, 2) float32, so no kernel is ever rebuilt;
- carries every complex tensor as its real view (..., 2) and every complex product in real
  arithmetic: (a + jb)(c + jd) = (ac - bd) + j(ad + bc);
- turns each ComplexLinear into one real nn.Linear on the interleaved real view,
  W_blk[2o + s, 2i + t] = [[Re W, -Im W], [Im W, Re W]][s][t], which is what int8 dynamic
  quantisation and bf16/fp16 casts act on (precision.py); the FFTs stay float32;
- takes and returns the real views of the eager model's tensors: x (B, T, 2, 2), y (B, T, 1, 2).

Its outputs equal SarSSM.forward's at length T (tests/inference/test_inference.py: 1e-5 relative).
Export and reduced precision (deploy/precision.py acts on its linear layers) call `freeze` by name.
The only complex tensors it makes are the FFT's, created by view_as_complex and turned back at once.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..models.complex import complex_mul
from ..models.gate import edge_mask, position_features
from ..models.s4d_kernel import circular_kernel
from ..models.sarssm import SarSSM


def block_linear(weight: torch.Tensor) -> nn.Linear:
    """The real nn.Linear (2 in -> 2 out, interleaved re/im) of a complex weight's real view (out, in, 2)."""
    re, im = weight[..., 0], weight[..., 1]  # (out, in) float32
    rows = torch.stack([torch.stack([re, -im], dim=-1), torch.stack([im, re], dim=-1)], dim=1)  # (out, 2, in, 2)
    out_features, in_features = weight.shape[:2]
    linear = nn.Linear(2 * in_features, 2 * out_features, bias=False)
    linear.weight.data.copy_(rows.reshape(2 * out_features, 2 * in_features))
    return linear


def apply_linear(linear: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """z (..., in, 2) real view -> (..., out, 2) through a block_linear (any precision it was given)."""
    flat = z.flatten(-2)  # (..., 2 in) interleaved; no shape read, so a traced export keeps its batch free
    weight = getattr(linear, "weight", None)
    dtype = weight.dtype if isinstance(weight, torch.Tensor) else torch.float32  # int8 modules take float32
    out = linear(flat.to(dtype)).float()  # (..., 2 out)
    return out.unflatten(-1, (-1, 2))


def magnitude(z: torch.Tensor) -> torch.Tensor:
    """|z| of a real view (..., 2) -> (...)."""
    return torch.sqrt(z[..., 0] * z[..., 0] + z[..., 1] * z[..., 1])


def layer_spectra(conv, length: int, power_of_two: bool) -> torch.Tensor:
    """A layer's grid spectra (G, H, N) complex64 for lines of `length`; N a power of two when asked
    (ONNX Runtime's DFT is accurate to 1e-5 only there)."""
    if not power_of_two:
        return conv.kernel_spectrum(length)
    k = conv.kernel_taps(length)  # (G, D, H, taps)
    n = 1 << (conv.fft_length(length) - 1).bit_length()
    return torch.fft.fft(circular_kernel(k[:, 0], k[:, 1] if conv.bidirectional else None, n))


class FrozenLayer(nn.Module):
    """One residual S4D layer: norm, convolution with baked spectra, activation, mixing, gate."""

    def __init__(self, model: SarSSM, index: int, length: int, power_of_two: bool = False):
        super().__init__()
        norm, block = model.norms[index], model.layers[index]
        conv = block.conv
        self.grid = conv.grid
        with torch.no_grad():
            spectrum = layer_spectra(conv, length, power_of_two)  # (G, H, N) complex64
        self.register_buffer("spectra", torch.view_as_real(spectrum.transpose(1, 2)).contiguous())  # (G, N, H, 2)
        self.register_buffer("d", conv.d.detach().clone())  # (H, 2)
        self.norm_gain = None if isinstance(norm, nn.Identity) else nn.Parameter(norm.gain.detach().clone())
        self.norm_eps = getattr(norm, "eps", 0.0)
        self.activation = block.activation.kind
        self.act_bias = None if block.activation.bias is None else nn.Parameter(block.activation.bias.detach().clone())
        self.mix = block_linear(block.mix.weight.detach())
        gate = model.gates[str(index)] if str(index) in model.gates else None
        self.gate_proj = None if gate is None else block_linear(gate.proj.weight.detach())
        self.gate_hidden = None if gate is None else copy.deepcopy(gate.hidden)
        self.gate_out = None if gate is None else copy.deepcopy(gate.out)
        self.edges_only = gate is not None and gate.edges_only  # gain 0 in the valid region (gate_region edges)

    def column_spectra(self, p: torch.Tensor) -> torch.Tensor:
        """Each column's spectrum (B or 1, N, H, 2): the two grid spectra around p, weighted."""
        if len(self.grid) == 1:
            return self.spectra
        idx, w = self.grid.locate(p)  # (B, 2) int64, (B, 2) float32
        lower = self.spectra.index_select(0, idx[:, 0]) * w[:, 0, None, None, None]
        return lower + self.spectra.index_select(0, idx[:, 1]) * w[:, 1, None, None, None]

    def convolve(self, v: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """v (B, T, H, 2) -> K_p * v + D v, (B, T, H, 2); the FFTs in float32."""
        length = v.shape[1]
        padded = F.pad(v, (0, 0, 0, 0, 0, self.spectra.shape[1] - length))  # (B, N, H, 2): pad the real view (ONNX)
        v_f = torch.view_as_real(torch.fft.fft(torch.view_as_complex(padded), dim=1))  # (B, N, H, 2)
        y_f = complex_mul(v_f, self.column_spectra(p))
        y = torch.view_as_real(torch.fft.ifft(torch.view_as_complex(y_f.contiguous()), dim=1))[:, :length]
        # y: (B, T, H, 2)
        return y + complex_mul(v, self.d)

    def normalise(self, u: torch.Tensor) -> torch.Tensor:
        if self.norm_gain is None:
            return u
        z = u - u.mean(dim=-2, keepdim=True)  # (B, T, H, 2)
        rms = torch.sqrt((z * z).sum(dim=-1).mean(dim=-1, keepdim=True) + self.norm_eps)  # (B, T, 1)
        return complex_mul(z / rms.unsqueeze(-1), self.norm_gain)

    def activate(self, z: torch.Tensor) -> torch.Tensor:
        if self.activation == "identity":
            return z
        if self.activation == "modrelu":
            mag = magnitude(z)  # (B, T, H)
            factor = torch.where(mag > 0, F.relu(mag + self.act_bias) / mag.clamp_min(1e-12), torch.zeros_like(mag))
            return z * factor.unsqueeze(-1)
        return {"gelu": F.gelu, "tanh": torch.tanh, "silu": F.silu}[self.activation](z)  # split: both parts

    def gain(self, v: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """The selectivity gate's complex gain (B, T, 1, 2) (models/gate.py)."""
        magnitudes = torch.log1p(magnitude(apply_linear(self.gate_proj, v)))  # (B, T, width)
        feats = torch.cat([magnitudes, position], dim=-1)
        dtype = self.gate_hidden.weight.dtype if isinstance(self.gate_hidden.weight, torch.Tensor) else torch.float32
        hidden = F.gelu(self.gate_hidden(feats.to(dtype)))
        gain = self.gate_out(hidden).float()  # (B, T, 2)
        if self.edges_only:
            gain = gain * edge_mask(position).unsqueeze(-1)
        return gain.unsqueeze(-2)  # (B, T, 1, 2)

    def forward(self, u: torch.Tensor, p: torch.Tensor, position: torch.Tensor | None) -> torch.Tensor:
        v = self.normalise(u)
        update = apply_linear(self.mix, self.activate(self.convolve(v, p)))  # (B, T, H, 2)
        if self.gate_proj is not None:
            update = complex_mul(update, self.gain(v, position))
        return u + update


class FrozenSarSSM(nn.Module):
    """Inference twin of a trained SarSSM at tile length T: x (B, T, 2, 2) float32 -> y (B, T, 1, 2) float32."""

    def __init__(self, model: SarSSM, length: int, power_of_two: bool = False):
        super().__init__()
        cfg = model.config
        self.length = length
        self.geometry = model.geometry
        self.scale_equivariant = cfg.scale_equivariant
        self.reads_position = model.reads_position
        self.input_proj = block_linear(model.input_proj.weight.detach())
        self.layers = nn.ModuleList(FrozenLayer(model, i, length, power_of_two) for i in range(cfg.num_layers))
        self.output_proj = block_linear(model.output_proj.weight.detach())
        self.shrink = copy.deepcopy(model.shrink)  # valid_shrink.py, already real arithmetic (None without)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        line = x[:, :, 0]  # (B, T, 2)
        p = x[:, :, 1, 0].mean(dim=1)  # (B,)
        scale = None
        if self.scale_equivariant:
            scale = torch.sqrt((line * line).sum(dim=-1).mean(dim=1, keepdim=True)).clamp_min(1e-6)  # (B, 1)
            line = line / scale.unsqueeze(-1)
        u = apply_linear(self.input_proj, line.unsqueeze(-2))  # (B, T, H, 2)
        position = position_features(p, x.shape[1], self.geometry) if self.reads_position else None  # (B, T, 3)
        for layer in self.layers:
            u = layer(u, p, position)
        y = apply_linear(self.output_proj, u)  # (B, T, 1, 2)
        if self.shrink is not None:
            y = self.shrink.shrink_real(y[:, :, 0], line, p, position)[:, :, None]  # (B, T, 1, 2)
        if scale is not None:
            y = y * scale[:, :, None, None]
        return y


def freeze(model: SarSSM, length: int, power_of_two: bool = False) -> FrozenSarSSM:
    """The frozen inference twin of `model` (moved to the CPU) for tiles of `length` samples."""
    return FrozenSarSSM(model.to("cpu").eval(), length, power_of_two)
