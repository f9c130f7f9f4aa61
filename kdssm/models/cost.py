"""What a model costs per column, counted from its structure: real multiply-accumulates (MACs).

A deterministic cost the search can minimise where timings are noisy (search.cost_measure macs): the
same number on any machine under any load. Counted for the inference implementation on one column of
L samples (kdssm/inference/channels_first.py), in real MACs (a complex product is 4, a real-by-complex
one 2), with H channels, N = the layer's FFT length, G_w the gate width, G_h its hidden width:

  input projection        4 H L                  (the complex line times H complex weights)
  per layer   norm        4 H L (layer norm: centre, rms, complex gain), 0 without
              convolution 2 x 4 H (N/2) log2 N   (forward and inverse radix-2 FFT butterflies)
                          + 4 H N (two grid spectra weighted: 2 x real-by-complex)
                          + 4 H N (the product with the input's spectrum) + 4 H L (D u)
              activation  2 H L (modReLU's rescale; split activations and the identity: 0)
              mixing      4 H^2 L
              gate        4 G_w H L + (G_w + 3) G_h L + 2 G_h L + 4 H L (the complex gain times the update)
  output projection       4 H L
  valid shrink            2 x fft(L) + 2 L (the noise probe: forward, inverse, the response)
                          + 2 L W (the window means) + (W + 3) S_h L + S_h W L (its MLP) + W L + 2 L (the gain)
              its targets I x (6 D K + 16 L) (CLEAN, target_clean.py: I iterations, each fitting D offsets
                          on K = 2 F + 1 samples (4 D K, their energies 2 D K), the amplitude and the subtraction
                          (8 L), both again in the amplitudes' refit (8 L)); without shrink_targets 0

Element-wise transcendental functions (exp, log1p, gelu, sqrt) and the scale's division are not MACs
and are left out; a gate acting at the edges only is counted on the whole line (an upper bound: its
share of a column depends on the geometry). tests/models/test_cost.py checks a hand count.
"""

from __future__ import annotations

import math

from torch import nn

from . import target_clean


def fft_macs(channels: int, n: int) -> int:
    """Real MACs of one complex FFT of n points over `channels` lines: (n/2) log2 n butterflies of 4."""
    return 4 * channels * (n // 2) * math.ceil(math.log2(n))


def layer_macs(model: nn.Module, index: int, length: int) -> int:
    h = model.config.model_dim
    conv = model.layers[index].conv
    n = conv.fft_length(length)
    norm = 0 if isinstance(model.norms[index], nn.Identity) else 4 * h * length
    convolution = 2 * fft_macs(h, n) + 4 * h * n + 4 * h * n + 4 * h * length
    activation = 2 * h * length if model.layers[index].activation.kind == "modrelu" else 0
    mixing = 4 * h * h * length
    gate = 0
    if str(index) in model.gates:
        g = model.gates[str(index)]
        width, hidden = g.proj.weight.shape[0], g.hidden.weight.shape[0]
        gate = 4 * width * h * length + (width + 3) * hidden * length + 2 * hidden * length + 4 * h * length
    return norm + convolution + activation + mixing + gate


def macs_per_column(model: nn.Module, length: int) -> int:
    """Real multiply-accumulates of a SarSSM's inference on one column of `length` samples (docstring)."""
    h = model.config.model_dim
    layers = sum(layer_macs(model, i, length) for i in range(len(model.layers)))
    return 4 * h * length + layers + 4 * h * length + shrink_macs(model, length)


def shrink_macs(model: nn.Module, length: int) -> int:
    """Real MACs of a model's valid-region shrink on one column (0 without one)."""
    shrink = getattr(model, "shrink", None)
    if shrink is None:
        return 0
    hidden, features = shrink.hidden.weight.shape
    windows = features - 3
    probe = 2 * fft_macs(1, length) + 2 * length
    clean = 0
    if shrink.targets:
        fitted = target_clean.OFFSET_STEPS * (2 * target_clean.FIT_HALF_WIDTH + 1)  # D K
        clean = target_clean.ITERATIONS * (6 * fitted + 16 * length)
    return (
        probe
        + clean
        + 2 * length * windows
        + features * hidden * length
        + hidden * windows * length
        + windows * length
        + 2 * length
    )
