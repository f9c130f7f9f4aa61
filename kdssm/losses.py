"""Loss functions: pure, complex-aware, formula in each docstring. Modules hold parameters only."""

from __future__ import annotations

import torch

from .models.complex import power, to_real

EPS = 1e-12


def complex_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean |pred - target|^2 over all elements (complex or real)."""
    return power(pred - target).mean()


def normalised_mse(pred: torch.Tensor, target: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """sum |pred - target|^2 / sum |target|^2: the complex MSE divided by the batch's target power.

    Same gradient direction as complex_mse within a batch; its scale does not depend on how bright
    the batch's point targets are, which keeps step sizes steady.
    """
    return power(pred - target).sum() / power(target).sum().clamp_min(eps)


def column_normalised_mse(pred: torch.Tensor, target: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """mean_b [ sum_i |pred_bi - target_bi|^2 / sum_i |target_bi|^2 ] over the columns b of (B, L, C).

    Every column counts alike, however bright: in the batch ratio (normalised_mse) a column of clutter
    alone weighs ~1 % of one holding a 30 dB point target, so what a model does to clutter goes unseen.
    """
    dims = tuple(range(1, pred.dim()))
    return (power(pred - target).sum(dim=dims) / power(target).sum(dim=dims).clamp_min(eps)).mean()


def masked_normalised_mse(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = EPS
) -> torch.Tensor:
    """sum_mask |pred - target|^2 / sum_mask |target|^2, mask broadcastable to pred (1 keeps a sample)."""
    mask = mask.to(pred.real.dtype)
    err = (power(pred - target) * mask).sum()
    return err / ((power(target) * mask).sum().clamp_min(eps))


GROUND_TRUTH_LOSSES = {"mse": complex_mse, "nmse": normalised_mse}


def teacher_precision(teacher_error: torch.Tensor, temperature: float) -> torch.Tensor:
    """w_i = 1 / (1 + T e_i): the precision of the teacher's label at position i against a unit prior.

    e_i (L,) is the teacher's error-to-signal ratio at position i of a column, measured on labelled
    training columns (`teacher_error_profile`); T scales the error the student assumes the teacher makes.
    """
    return 1.0 / (1.0 + temperature * teacher_error.clamp_min(0.0))


def distillation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    temperature: float,
    teacher_error: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    trust: torch.Tensor | None = None,
    eps: float = EPS,
    columns: bool = False,
) -> torch.Tensor:
    """Distillation as a Gaussian likelihood of the teacher's labels, (B, L, C) complex:

        sum_{b,i} w_i k_bi |s - t|^2 / sum_{b,i} w_i |t|^2,   w_i = 1 / (1 + T e_i)   (teacher_precision)

    The seeds' T^2 MSE(s/T, t/T) is the plain MSE whatever T (T cancels). Here T is the scale of the
    error the student assumes in the teacher's output: at T -> 0 every position is trusted alike (the
    normalised MSE); as T grows, positions where the teacher is measured to be less accurate (the
    column edges, ~-10 dB, against -34 dB inside) count less. T changes the gradient's direction, not
    only its size. Without a profile (teacher_error None) every e_i is 0. `mask` (B, L, 1) keeps a
    region (the valid one), as the ground-truth objective weighs it. `trust` k (B, L, C) in [0, 1]
    (default 1) drops terms from the numerator only (`teacher_bound`), so a dropped position does not
    raise the weight of the others. `columns`: the same ratio per column, averaged over the columns (as
    column_normalised_mse weighs ground truth), so a column of clutter alone counts as one with a target.
    """
    w = torch.ones_like(student.real[:1])  # (1, L, C)
    if teacher_error is not None:
        w = w * teacher_precision(teacher_error, temperature)[None, :, None]
    if mask is not None:
        w = w * mask.to(w.dtype)  # (B, L, C)
    err = power(student - teacher)  # (B, L, C)
    if trust is not None:
        err = err * trust.to(err.dtype)
    if columns:
        dims = tuple(range(1, err.dim()))
        return ((w * err).sum(dim=dims) / (w * power(teacher)).sum(dim=dims).clamp_min(eps)).mean()
    return (w * err).sum() / (w * power(teacher)).sum().clamp_min(eps)


def teacher_bound(student: torch.Tensor, teacher: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """k = 1 where |t - y| <= |s - y|, else 0, detached, (B, L, C) -> float (B, L, C).

    The teacher-bounded regression of Chen et al. (2017, "Learning efficient object detection models
    with knowledge distillation"): on a labelled column the teacher's output is a label only where the
    teacher is closer to the truth than the student is now. Once the student beats the teacher at a
    position, the teacher stops pulling it back to the teacher's error; where the student is still
    worse, the teacher's label (smooth, reachable) guides it as before.
    """
    with torch.no_grad():
        return (power(teacher - target) <= power(student - target)).to(student.real.dtype)


def teacher_error_profile(teacher: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """e_i = sum_b |t - y|^2 / sum_b |y|^2 at each position i, both ends of a column pooled
    (position i and L-1-i are alike): (N, L, 1) complex -> (L,) float32."""
    err = power(teacher - target).sum(dim=(0, 2)).double()  # (L,)
    ref = power(target).sum(dim=(0, 2)).double()
    return ((err + err.flip(0)) / (ref + ref.flip(0)).clamp_min(EPS)).float()


def confidence_loss(
    student: torch.Tensor, teacher: torch.Tensor, target: torch.Tensor, softness: float, eps: float = EPS
) -> torch.Tensor:
    """Distillation weighted by the teacher's per-sample confidence.

    w = exp(-|teacher - target|^2 / (S * mean |target|^2)), detached;
    loss = sum w |student - teacher|^2 / sum w |teacher|^2.
    Samples where the teacher is right count fully; where it is wrong, less; a higher softness S
    flattens the weights towards uniform (S -> inf gives normalised_mse(student, teacher)).
    """
    with torch.no_grad():
        scale = softness * power(target).mean().clamp_min(eps)
        w = torch.exp(-power(teacher - target) / scale)
    return (w * power(student - teacher)).sum() / (w * power(teacher)).sum().clamp_min(eps)


def _centred_power(z: torch.Tensor) -> torch.Tensor:
    """Per-column variance of a complex line: mean_L |z - mean_L z|^2, (B, L, C) -> (B, C)."""
    return power(z - z.mean(dim=1, keepdim=True)).mean(dim=1)


def variance_loss(student: torch.Tensor, teacher: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """mean over columns of (var_s - var_t)^2 / var_t^2, var the per-column complex variance.

    Penalises a student whose output power collapses towards the mean (the seeds' mode collapse).
    """
    vs, vt = _centred_power(student), _centred_power(teacher)
    return ((vs - vt) / vt.clamp_min(eps)).pow(2).mean()


def magnitude_moments(z: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Mean, std, skewness and kurtosis of |z| over (B, L) per channel: (B, L, C) -> (4, C)."""
    mag = z.abs().flatten(0, 1)  # (B*L, C)
    mean = mag.mean(dim=0)
    centred = mag - mean
    std = centred.pow(2).mean(dim=0).clamp_min(eps).sqrt()
    skew = (centred / std).pow(3).mean(dim=0)
    kurt = (centred / std).pow(4).mean(dim=0)
    return torch.stack([mean, std, skew, kurt])


def moment_loss(student: torch.Tensor, teacher: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Match the magnitude distributions up to kurtosis.

    ((mu_s - mu_t)^2 + (sd_s - sd_t)^2) / sd_t^2 + (skew_s - skew_t)^2 / (1 + skew_t^2)
    + (kurt_s - kurt_t)^2 / kurt_t^2, averaged over channels. Each term is scale-free.
    """
    ms, mt = magnitude_moments(student, eps), magnitude_moments(teacher, eps)
    scale = mt[1].pow(2).clamp_min(eps)
    loc = ((ms[0] - mt[0]).pow(2) + (ms[1] - mt[1]).pow(2)) / scale
    shape = (ms[2] - mt[2]).pow(2) / (1 + mt[2].pow(2)) + (ms[3] - mt[3]).pow(2) / mt[3].pow(2).clamp_min(eps)
    return (loc + shape).mean()


def cosine_similarity(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """<a, b> / (|a| |b|) over the last dimension of real tensors. (..., C) -> (...)."""
    return (a * b).sum(dim=-1) / (a.square().sum(dim=-1).sqrt() * b.square().sum(dim=-1).sqrt()).clamp_min(eps)


def complex_cosine_similarity(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Re<a, b> / (|a| |b|) over the last dimension: the cosine of the angle between the two complex
    vectors seen as real vectors of twice the length. (..., C) -> (...)."""
    return cosine_similarity(to_real(a), to_real(b), eps)


def feature_loss(student: torch.Tensor, teacher: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Multi-scale feature matching between aligned features (B, L, C) complex, or their real pairs
    (B, L, 2C) as `to_real` gives them (the same value: every term below is a sum over re and im):

    nmse(student, teacher) + 0.02 (1 - mean cos) + 0.01 |mean_s - mean_t|^2 / mean |teacher|^2,
    means over (B, L) per channel. `student` is the student's projected features, `teacher` the
    teacher's as they are: every term is normalised by the fixed teacher side, which no learnable
    part can shrink. Computed on the real pairs: complex elementwise kernels cost 2-3x more on CPU.
    """
    s, t = to_real(student), to_real(teacher)  # (B, L, 2C) float32
    mse = normalised_mse(s, t, eps)
    cosine = 1.0 - cosine_similarity(s, t).mean()
    mean_gap = (s.mean(dim=(0, 1)) - t.mean(dim=(0, 1))).square().sum()
    moment = mean_gap / t.square().mean(dim=(0, 1)).sum().clamp_min(eps)
    return mse + 0.02 * cosine + 0.01 * moment
