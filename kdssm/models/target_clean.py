"""Point targets on the focused line, estimated by CLEAN inside the valid region, so that a shrink can act on
what is left (clutter plus noise) and leave the targets whole.

Inside the valid region a focused point target at (fractional) sample x0 with complex amplitude a is exactly
a PSF(i - x0), the card's focusing operator applied to its phase history (DATA_CARD.md):

    PSF(u) = 1/sqrt(Na) sum_{|m| <= h, |u + m| <= Na/2} exp(-j pi Ka (u^2 + 2 u m) / PRF^2),   h = (Na - 1) // 2
           = 1/sqrt(Na) exp(-j pi Ka u^2 / PRF^2) exp(j theta (lo + hi) / 2) sin(theta M / 2) / sin(theta / 2)

with theta = -2 pi Ka u / PRF^2, lo = max(-h, ceil(-Na/2 - u)), hi = min(h, floor(Na/2 - u)), M = hi - lo + 1
(the Dirichlet sum in closed form; M where sin(theta / 2) = 0; 0 where M <= 0: |u| >= Na). Its sidelobes fall
off as 1 / u: a target 30 dB above the clutter dominates the local power dozens of samples away, where a
Wiener gain on y therefore stays at 1 and the clutter's noise is left unshrunk. With each target subtracted
the local power reads clutter plus noise there too (genie targets, noise known, card: 0.39 dB of the 0.45 to
the limit against 0.21 without; SNR -5..5 dB: 2.57 against 1.35; benchmarks/valid_shrink.py).

CLEAN, ITERATIONS times on each column (z starts as y; t, the targets' estimate, as 0):

    j  = argmax_{i valid} |z_i|^2; the column stops once |z_j|^2 < THRESHOLD B, B the median valid |y|^2 / ln 2
         (clutter plus noise: exponential power)
    for each offset d in [-0.5, 0.5] (OFFSET_STEPS of them): P_d = PSF(i - j - d),
         c_d = <P_d, z>, e_d = ||P_d||^2 over the valid samples within FIT_HALF_WIDTH of j
    d* = argmax |c_d|^2 / e_d  (the best-fitting fractional position)
    a  = <P_d*, z> / ||P_d*||^2 over the column's valid samples  (the least-squares amplitude)
    z -= a P_d*, t += a P_d*  (on the valid samples)

Everything is real arithmetic on real views (the shrink runs in the ONNX-exported twin as it is), phase- and
scale-equivariant (B and the threshold scale with |y|^2; a and t with y). The search (positions, offsets,
when to stop) runs without gradients; the amplitudes are then fitted again in the same order, linear in y,
so gradients reach y through t. With the card's PSF the subtraction is exact for the matched filter's
output; a model focusing differently leaves what the PSF misses in y - t, where the shrink sees it as power.
"""

from __future__ import annotations

import math

import torch

from .complex import complex_mul

ITERATIONS = 8  # targets subtracted per column at most (the card: ~1.4 a column; dense scenes ~7)
THRESHOLD = 30.0  # x B: a peak under ~15 dB above the clutter plus noise is left to the shrink
OFFSET_STEPS = 21  # fractional positions tried in [-0.5, 0.5] samples (0.05 apart) ...
FIT_HALF_WIDTH = 24  # ... on this many samples either side of the peak


def psf(u: torch.Tensor, ka: torch.Tensor, na: torch.Tensor, prf_hz: float) -> torch.Tensor:
    """u (B, ...) float32 offsets in samples, ka (B,) Hz/s, na (B,) samples -> (B, ..., 2) float32: the real
    view of PSF(u), the focused response of a unit point target u samples away (module docstring)."""
    extra = (1,) * (u.dim() - 1)
    ka, na = ka.float().view(-1, *extra), na.float().view(-1, *extra)  # (B, 1, ...)
    half = torch.div(na - 1.0, 2.0, rounding_mode="floor")  # h
    lo = torch.maximum(-half, torch.ceil(-na / 2.0 - u))
    hi = torch.minimum(half, torch.floor(na / 2.0 - u))
    count = (hi - lo + 1.0).clamp_min(0.0)  # M
    theta = -2.0 * math.pi * ka * u / prf_hz**2
    denominator = torch.sin(theta / 2.0)
    aliased = denominator.abs() < 1e-6  # theta a multiple of 2 pi: every term alike
    turns = torch.round(theta / (2.0 * math.pi))  # the sum there is M (-1)^(turns (M - 1))
    sign = 1.0 - 2.0 * torch.remainder(turns * (count - 1.0), 2.0)
    ratio = torch.sin(theta * count / 2.0) / torch.where(aliased, 1.0, denominator)
    dirichlet = torch.where(aliased, count * sign, ratio)
    phase = -math.pi * ka * u * u / prf_hz**2 + theta * (lo + hi) / 2.0
    magnitude = torch.where(count > 0, dirichlet, 0.0) / torch.sqrt(na)
    return torch.stack([magnitude * torch.cos(phase), magnitude * torch.sin(phase)], dim=-1)


def psf_reference(u: torch.Tensor, ka: torch.Tensor, na: torch.Tensor, prf_hz: float) -> torch.Tensor:
    """The explicit sum over m of PSF(u) (module docstring), complex128 (B, ...): the readable twin of psf."""
    extra = (1,) * (u.dim() - 1)
    ka, na = ka.double().view(-1, *extra, 1), na.double().view(-1, *extra, 1)
    half = torch.div(na - 1.0, 2.0, rounding_mode="floor")
    m = torch.arange(-int(half.max()), int(half.max()) + 1, dtype=torch.float64)  # (M,)
    uu = u.double().unsqueeze(-1)  # (B, ..., 1)
    inside = (m.abs() <= half) & ((uu + m).abs() <= na / 2.0)
    terms = torch.exp(-1j * math.pi * ka * (uu * uu + 2.0 * uu * m) / prf_hz**2)
    return torch.where(inside, terms, 0.0).sum(dim=-1) / torch.sqrt(na[..., 0])


def valid_median(power: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """power (B, L) float32 and valid (B, L) bool -> the median over each column's valid samples (B,) and
    whether it has any (B,) bool (the lower middle one of an even count)."""
    count = valid.sum(dim=-1)  # (B,)
    ordered = torch.sort(torch.where(valid, power, torch.full_like(power, float("inf"))), dim=-1).values
    middle = torch.div(count - 1, 2, rounding_mode="floor").clamp_min(0)  # (B,)
    return torch.gather(ordered, 1, middle[:, None])[:, 0].clamp_max(torch.finfo(power.dtype).max), count > 0


def fitted(shape: torch.Tensor, z: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
    """a P, P = shape (B, L, 2) and a = <P, z> / energy (B,) its least-squares amplitude in z (B, L, 2)."""
    amplitude = complex_mul(shape, z, conjugate_a=True).sum(dim=1) / energy[:, None]  # (B, 2)
    return complex_mul(amplitude[:, None, :], shape)  # (B, L, 2)


def search(y: torch.Tensor, valid: torch.Tensor, ka: torch.Tensor, na: torch.Tensor, prf_hz: float) -> torch.Tensor:
    """CLEAN's detections (module docstring) in y (B, L, 2) float32, valid (B, L) bool: each iteration's unit
    response on the valid samples (B, ITERATIONS, L, 2) float32 (zero once a column stops). The offset is
    chosen on the FIT_HALF_WIDTH samples either side of the peak, the amplitude fitted over the column."""
    batch, length = y.shape[:2]
    keep = valid.to(y.dtype)[..., None]  # (B, L, 1)
    floor, active = valid_median(y.pow(2).sum(dim=-1), valid)  # (B,), (B,)
    floor = floor / math.log(2.0)  # B: the median of an exponential power is ln 2 x its mean
    offsets = torch.linspace(-0.5, 0.5, OFFSET_STEPS, device=y.device)  # (D,)
    lags = torch.arange(-FIT_HALF_WIDTH, FIT_HALF_WIDTH + 1, device=y.device)  # (K,) i - j near the peak
    near_lags = lags[None, None, :].float() - offsets[None, :, None].expand(batch, -1, -1)  # (B, D, K)
    near = psf(near_lags, ka, na, prf_hz)  # (B, D, K, 2) the responses tried, near the peak
    samples = torch.arange(length, device=y.device)  # (L,)
    z = y * keep
    chosen = []
    for _ in range(ITERATIONS):
        power = z.pow(2).sum(dim=-1)  # (B, L)
        peak = torch.argmax(power, dim=-1)  # (B,) invalid samples hold zero
        active = active & (torch.gather(power, 1, peak[:, None])[:, 0] > THRESHOLD * floor)  # (B,)
        index = peak[:, None] + lags[None, :]  # (B, K)
        inside = ((index >= 0) & (index < length)).to(y.dtype)  # (B, K)
        index = index.clamp(0, length - 1)
        window = torch.gather(z, 1, index[..., None].expand(-1, -1, 2)) * inside[..., None]  # (B, K, 2) on valid
        mask = torch.gather(keep[..., 0], 1, index) * inside  # (B, K)
        fit = complex_mul(near, window[:, None], conjugate_a=True).sum(dim=2)  # (B, D, 2) c_d
        energy = (near.pow(2).sum(dim=-1) * mask[:, None]).sum(dim=-1).clamp_min(1e-12)  # (B, D) e_d
        best = torch.argmax(fit.pow(2).sum(dim=-1) / energy, dim=-1)  # (B,) d*
        u = samples[None, :] - peak[:, None] - offsets[best][:, None]  # (B, L)
        shape = psf(u, ka, na, prf_hz) * keep * active.to(y.dtype)[:, None, None]  # (B, L, 2)
        z = z - fitted(shape, z, shape.pow(2).sum(dim=(1, 2)).clamp_min(1e-12))  # (B, L, 2)
        chosen.append(shape)
    return torch.stack(chosen, dim=1)


def targets(y: torch.Tensor, valid: torch.Tensor, ka: torch.Tensor, na: torch.Tensor, prf_hz: float) -> torch.Tensor:
    """y (B, L, 2) float32 real view of the focused line, valid (B, L) bool, ka, na (B,) -> t (B, L, 2) float32:
    the point targets CLEAN finds in the valid region (module docstring), zero elsewhere. The search runs
    without gradients; the amplitudes are then fitted again in sequence, linear in y, with them."""
    with torch.no_grad():
        shapes = search(y.detach(), valid, ka, na, prf_hz)  # (B, K, L, 2)
    energy = shapes.pow(2).sum(dim=(2, 3)).clamp_min(1e-12)  # (B, K)
    z = y * valid.to(y.dtype)[..., None]
    found = torch.zeros_like(y)
    for k in range(shapes.shape[1]):
        step = fitted(shapes[:, k], z, energy[:, k])  # (B, L, 2)
        z = z - step
        found = found + step
    return found
