"""Valid-region shrink: a learned, level-aware real gain on the focused line where a column holds the
whole aperture, starting at exactly what the model focuses (gain 1).

Inside the valid region the matched filter's error is its filtered input noise alone (the card's truth is
the focusing of the clean line), so what is left to win there is denoising: keep the point targets, shrink
clutter plus noise where the noise dominates. The local Wiener gain max(0, 1 - N / S_w), S_w the mean
focused power over w samples and N the column's noise power, wins 0.21 dB with N *known* on the card's mini
columns (w = 15) and 1.35 dB at SNR -5..5 dB (w = 31), of the 0.44 and 2.97 dB to the limit
(benchmarks/valid_shrink.py). This module learns such a gain:

    g = max(0, 1 - sum_w a_w N_hat / (S_w + FLOOR N_hat)),
    a = MLP([log(S_w / N_hat + FLOOR) for w in WINDOWS, log N_hat, log(N_mean / N_hat), p])
    y -> g y in the valid region, y elsewhere

- S_w is floored at FLOOR x N_hat: where the focused line passes through zero, N_hat / S_w would be unbounded
  and a negative a_w would turn g y into a_w N_hat / conj(y), which no float rounding survives (the
  trained demo teachers' scores move by under 0.003 dB with the floor).
- Wiener-shaped: the known-noise gain is a_7 = 1, the others 0. Where the local power is far above the noise
  (a point target's peak and its sidelobes) every term vanishes whatever the MLP says, so bright targets
  pass untouched; a free additive gain measurably dimmed them on very dense scenes.
- N_hat, the column's noise power, from its out-of-band Doppler content (noise_power): point targets are
  not band-limited (their apertures are cut sharply, so their chirps leak past the processed band 20-40 dB
  above the noise), but the leak sits where a chirp starts or ends. A high-pass past the band and a low
  quantile over time of its power read the samples between those bursts: "bright targets excluded". Where
  bursts cover most of a column (dense bright targets) the quantile reads them too; the probe's mean over
  N_hat measures that, and the gain learns how far to trust N_hat.
- Real, from phase-invariant and scale-free features (powers in ratio to N_hat; log N_hat on the unit-rms
  stream of a scale-equivariant model is the column's noise share): a shrunk model stays phase-equivariant.
- The MLP's last layer starts zero, so the gain is 1 and the model is exactly what it was; the edges
  (samples whose aperture is cut) are never touched: they are the gates'.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..geometry import Geometry
from . import target_clean
from .gate import edge_mask

WINDOWS = (1, 3, 7, 15, 31, 63)  # samples over which the focused power is averaged
FEATURES = len(WINDOWS) + 3  # + log N_hat, log(N_mean / N_hat), p
BAND_MARGIN = 1.2  # the high-pass starts this far past the processed band's edge Ka Na / (2 PRF) ...
RAMP_SHARE = 1.0 / 6.0  # ... and rises (sin^2) over this share of the PRF: short bursts in time
QUANTILE = 0.15  # of |high-passed line|^2 over the column; exponential: q-quantile = -ln(1 - q) x power
FLOOR = 0.1  # S_w + FLOOR N_hat: a zero of the focused line cannot blow up N_hat / S_w (nor g y ~ 1 / y)


def highpass_response(ka: torch.Tensor, na: torch.Tensor, prf_hz: float, length: int) -> torch.Tensor:
    """(B,) Ka (Hz/s), Na -> (B, L) float32 amplitude response of the noise probe on the L-point DFT grid:
    0 inside BAND_MARGIN x the processed half band Ka Na / (2 PRF), sin^2 up to 1 over RAMP_SHARE x PRF."""
    k = torch.arange(length, device=ka.device, dtype=torch.float32)  # (L,) DFT bins (fftfreq, which ONNX lacks)
    freq = torch.where(k < (length + 1) // 2, k, k - length).abs() * (prf_hz / length)  # (L,) |Hz|
    edge = BAND_MARGIN * ka * na / prf_hz / 2.0  # (B,) Hz
    rise = ((freq[None, :] - edge[:, None]) / (RAMP_SHARE * prf_hz)).clamp(0.0, 1.0)  # (B, L)
    return torch.sin(0.5 * math.pi * rise).pow(2).float()


def quantile(values: torch.Tensor, q: float) -> torch.Tensor:
    """(B, L) float32 -> (B,): the q-quantile along the last axis, linear between order statistics (as
    torch.quantile; sorted explicitly so that the real-view twin exports to ONNX)."""
    ordered = torch.sort(values, dim=-1).values  # (B, L)
    position = q * (values.shape[-1] - 1)
    low = math.floor(position)
    high = min(low + 1, values.shape[-1] - 1)
    return ordered[:, low] + (position - low) * (ordered[:, high] - ordered[:, low])


def noise_power(
    line: torch.Tensor, ka: torch.Tensor, na: torch.Tensor, prf_hz: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each column's white-noise power per sample from its raw line's real view (B, L, 2), robust and
    naive, both (B,) float32:

        e = IDFT(W . DFT(line)),
        N_hat = quantile_q(|e|^2) / (-ln(1 - q)) / mean(W^2),   N_mean = mean(|e|^2) / mean(W^2)

    W = highpass_response. The noise passes W with power N mean(W^2) per sample and is complex Gaussian, so
    |e|^2 is exponential wherever no chirp starts or ends: N_hat reads the noise there, N_mean also the
    bursts, so N_mean / N_hat says how many bright targets the column holds. The matched filter's reference
    has unit energy, so N_hat is also the noise power of the focused line."""
    response = highpass_response(ka, na, prf_hz, line.shape[1])  # (B, L) float32
    spectrum = torch.fft.fft(torch.view_as_complex(line.contiguous()), dim=-1) * response  # (B, L) complex64
    probe = torch.view_as_real(torch.fft.ifft(spectrum, dim=-1)).pow(2).sum(dim=-1)  # (B, L) float32 |e|^2
    passed = response.pow(2).mean(dim=-1).clamp_min(1e-3)  # (B,) share of the noise the probe passes
    robust = quantile(probe, QUANTILE) / -math.log1p(-QUANTILE) / passed  # (B,)
    return robust.clamp_min(1e-12), (probe.mean(dim=-1) / passed).clamp_min(1e-12)


def local_power(power: torch.Tensor) -> torch.Tensor:
    """|y|^2 (B, L) float32 -> (B, L, len(WINDOWS)) float32: its mean over each window centred on each
    sample (the part of the window inside the column)."""
    means = [F.avg_pool1d(power.unsqueeze(1), w, stride=1, padding=w // 2, count_include_pad=False) for w in WINDOWS]
    return torch.cat(means, dim=1).transpose(1, 2)  # (B, L, W)


class ValidShrink(nn.Module):
    """g y inside the valid region (module docstring); geometry: the model's acquisition geometry; targets:
    subtract the point targets CLEAN finds first (target_clean.py) and shrink only the rest, t + g (y - t)."""

    def __init__(self, geometry: Geometry, hidden: int = 16, targets: bool = False):
        super().__init__()
        self.geometry = geometry
        self.targets = targets
        self.hidden = nn.Linear(FEATURES, hidden)
        self.out = nn.Linear(hidden, len(WINDOWS))  # a_w
        nn.init.zeros_(self.out.weight)  # gain 1 at the start: the model as it is
        nn.init.zeros_(self.out.bias)

    def column_geometry(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p (B,) -> each column's Ka (B,) float32 Hz/s and Na (B,) float32 samples."""
        r0 = self.geometry.slant_range(p.double().clamp(0.0, 1.0))  # (B,) float64
        return self.geometry.fm_rate(r0).float(), self.geometry.aperture_samples(r0).float()

    def column_noise(self, line: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """noise_power's (N_hat, N_mean), each (B,) float32, of raw lines' real view (B, L, 2) at p (B,)."""
        ka, na = self.column_geometry(p)
        return noise_power(line, ka, na, self.geometry.prf_hz)

    def gain(self, power: torch.Tensor, line: torch.Tensor, p: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """|r|^2 (B, L) float32 of what is shrunk, the raw line's real view (B, L, 2), p (B,), position
        (B, L, 3) -> g (B, L) float32."""
        noise, mean = self.column_noise(line, p)  # (B,), (B,)
        ratios = torch.log(local_power(power) / noise[:, None, None] + FLOOR)  # (B, L, W) log(S_w / N_hat + FLOOR)
        column = torch.stack([noise.log(), (mean / noise).log(), p.float()], dim=-1)  # (B, 3)
        shared = column[:, None, :].expand(-1, power.shape[1], -1)  # (B, L, 3)
        weights = self.out(F.gelu(self.hidden(torch.cat([ratios, shared], dim=-1))))  # (B, L, W) a_w
        change = (weights * torch.exp(-ratios)).sum(dim=-1)  # (B, L) sum_w a_w N_hat / (S_w + FLOOR N_hat)
        return (1.0 - change * (1.0 - edge_mask(position))).clamp_min(0.0)  # (B, L) float32

    def shrink_real(self, y: torch.Tensor, line: torch.Tensor, p: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """Real views: y (B, L, 2) focused, line (B, L, 2) raw, p (B,), position (B, L, 3) -> (B, L, 2) the
        shrunk focused line, t + g (y - t) (t = 0 without targets); the complex forward and the real-view
        twin both run this."""
        found = torch.zeros_like(y)
        if self.targets:
            ka, na = self.column_geometry(p)
            valid = edge_mask(position) < 0.5  # (B, L)
            found = target_clean.targets(y, valid, ka, na, self.geometry.prf_hz)  # (B, L, 2)
        rest = y - found  # (B, L, 2) clutter plus noise (and what CLEAN missed)
        return found + rest * self.gain(rest.pow(2).sum(dim=-1), line, p, position)[..., None]

    def forward(self, y: torch.Tensor, line: torch.Tensor, p: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """y (B, L) complex64 focused, line (B, L) complex64 raw -> (B, L) complex64: the shrunk focused line."""
        shrunk = self.shrink_real(torch.view_as_real(y), torch.view_as_real(line), p, position)  # (B, L, 2)
        return torch.view_as_complex(shrunk.contiguous())
