"""Reduced precision for inference: the frozen twin's linear layers in bf16, fp16 or int8; FFTs in fp32.

- fp32: the eager model as trained (complex64 throughout).
- bf16 / fp16: every real nn.Linear of the frozen twin (frozen.py: the complex mixing, projections
  and the gates' MLPs as real block matrices) holds its weights in that dtype and computes in it;
  the spectra, the FFTs and the spectral products stay float32, since a 16-bit FFT of a bright
  point target's line loses the clutter around it.
- int8-dynamic: torch's dynamic quantisation (int8 weights, activations quantised per batch on the
  fly) of the gates' layers (projection and MLP), whose inputs are log-magnitudes; the stream's
  mixing and projections stay fp32. The stream carries point targets up to 30 dB above the clutter,
  which one int8 scale per tensor cannot hold: quantising every linear layer moved the demo's
  best student's accuracy from 0.9559 to 0.9520 (output change -23.7 dB), the gates alone to
  0.9557 (-37.7 dB); bf16 changed it by -49 dB, fp16 by -67 dB.
What each setting costs in nmse and gains in speed is measured, never assumed: `kdssm compare
--precision` rows and benchmarks/focus.py.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ..inference import FrozenSarSSM, InferenceModel, freeze
from .errors import DeployError
from .formats import PRECISIONS

HALF = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise DeployError(f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})")


def reduce_precision(frozen: FrozenSarSSM, precision: str) -> nn.Module:
    """The frozen twin with its linear layers at `precision` (module docstring); fp32 returns it unchanged."""
    check_precision(precision)
    if precision == "fp32":
        return frozen
    if precision == "int8-dynamic":
        from torch.ao.quantization import quantize_dynamic

        gate_layers = {
            name
            for name, module in frozen.named_modules()
            if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1].startswith("gate_")
        }
        with warnings.catch_warnings():  # torch.ao.quantization's deprecation notice, every call
            warnings.simplefilter("ignore")
            return quantize_dynamic(frozen, gate_layers, dtype=torch.qint8) if gate_layers else frozen
    for module in frozen.modules():
        if isinstance(module, nn.Linear):
            module.to(HALF[precision])
    return frozen


class ComplexIO(nn.Module):
    """A frozen twin (any precision) behind the eager model's interface: x (B, T, 2) complex64 -> (B, T, 1)."""

    def __init__(self, frozen: nn.Module, reference: nn.Module):
        super().__init__()
        self.frozen = frozen
        self.config = reference.config
        self._anchor = nn.Parameter(torch.zeros(0), requires_grad=False)  # a device for evaluate.predict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.view_as_complex(self.frozen(torch.view_as_real(x).contiguous()).contiguous())


def at_precision(model: nn.Module, precision: str, length: int) -> nn.Module:
    """`model` at `precision` for columns of `length` samples, with the eager interface: the inference
    implementation (fp32: complex, any length; else the real-view twin at `length`, reduced)."""
    check_precision(precision)
    if precision == "fp32":
        return InferenceModel(model)
    return ComplexIO(reduce_precision(freeze(model, length), precision), model).eval()
