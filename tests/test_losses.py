import math

import pytest
import torch

from kdssm import losses


def c(values):
    return torch.tensor(values, dtype=torch.complex64)


def test_complex_mse_golden():
    assert float(losses.complex_mse(c([1 + 1j, 0]), c([0, 2j]))) == pytest.approx((2 + 4) / 2)


def test_normalised_mse_golden():
    assert float(losses.normalised_mse(c([1 + 1j, 0]), c([0, 2j]))) == pytest.approx(6 / 4)


def test_temperature_changes_the_distillation_gradient():
    g = torch.Generator().manual_seed(0)
    t = torch.randn(3, 16, 1, dtype=torch.complex64, generator=g)
    err = torch.linspace(0.0, 0.5, 16)  # the teacher worse towards one end
    grads = []
    for temp in (1.0, 4.0):
        s = torch.randn(3, 16, 1, dtype=torch.complex64, generator=torch.Generator().manual_seed(1))
        s.requires_grad_(True)
        losses.distillation_loss(s, t, temp, err).backward()
        grads.append(s.grad / s.grad.norm())
    assert (grads[0] - grads[1]).norm() > 0.05  # a different direction, not a rescaled one
    s = torch.randn(3, 16, 1, dtype=torch.complex64, generator=g)
    assert float(losses.distillation_loss(s, t, 1e-9, err)) == pytest.approx(
        float(losses.normalised_mse(s, t)), rel=1e-5
    )
    assert float(losses.distillation_loss(s, t, 4.0)) == pytest.approx(float(losses.normalised_mse(s, t)), rel=1e-6)
    per_column = losses.distillation_loss(s, t, 4.0, columns=True)  # no profile: each column's own nmse
    assert float(per_column) == pytest.approx(float(losses.column_normalised_mse(s, t)), rel=1e-6)


def test_teacher_bound_keeps_the_teacher_only_where_it_is_closer_to_the_truth():
    y = c([1.0, 1.0, 1.0])
    teacher = c([1.1, 3.0, 1.0])  # close, far, exact
    student = c([2.0, 1.5, 1.0])  # the student beats the teacher at the second position only
    torch.testing.assert_close(losses.teacher_bound(student, teacher, y), torch.tensor([1.0, 0.0, 1.0]))
    s, t = student[None, :, None], teacher[None, :, None]
    k = losses.teacher_bound(s, t, y[None, :, None])
    # the dropped position leaves the numerator only: the others keep their weight
    expected = (0.9**2 + 0.0) / (1.1**2 + 3.0**2 + 1.0**2)
    assert float(losses.distillation_loss(s, t, 1.0, trust=k)) == pytest.approx(expected, rel=1e-5)


def test_teacher_precision_and_error_profile_golden():
    e = torch.tensor([0.0, 0.25, 1.0])
    torch.testing.assert_close(losses.teacher_precision(e, 4.0), torch.tensor([1.0, 0.5, 0.2]))
    y = torch.ones(2, 4, 1, dtype=torch.complex64)
    t = y.clone()
    t[:, 0] = 2.0  # error 1 at the first position only: pooled with the last, e = (2 + 0) / (2 + 2)
    torch.testing.assert_close(losses.teacher_error_profile(t, y), torch.tensor([0.5, 0.0, 0.0, 0.5]))


def test_confidence_weights_follow_teacher_error():
    target = c([1.0, 1.0])
    teacher = c([1.0, 3.0])  # right on the first sample, wrong on the second
    student = c([2.0, 2.0])
    temp = 1.0
    w1, w2 = 1.0, math.exp(-4.0 / (temp * 1.0))
    expected = (w1 * 1 + w2 * 1) / (w1 * 1 + w2 * 9)
    assert float(losses.confidence_loss(student, teacher, target, temp)) == pytest.approx(expected, rel=1e-5)
    soft = float(losses.confidence_loss(student, teacher, target, 1e6))
    assert soft == pytest.approx(float(losses.normalised_mse(student, teacher)), rel=1e-4)


def test_variance_loss_golden():
    t = c([[1, -1]]).reshape(1, 2, 1)  # variance 1
    s = c([[2, -2]]).reshape(1, 2, 1)  # variance 4
    assert float(losses.variance_loss(s, t)) == pytest.approx(9.0)
    assert float(losses.variance_loss(t, t)) == 0.0


def test_moment_loss_zero_for_equal_distributions_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    t = torch.randn(4, 64, 3, dtype=torch.complex64, generator=g)
    assert float(losses.moment_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.moment_loss(2 * t, t)) > 0.5


def test_magnitude_moments_golden():
    z = c([1, -3, 1j, 3j]).reshape(1, 4, 1)  # magnitudes 1, 3, 1, 3
    mean, std, skew, kurt = losses.magnitude_moments(z)[:, 0].tolist()
    assert (mean, std, skew, kurt) == pytest.approx((2.0, 1.0, 0.0, 1.0))


def test_complex_cosine_similarity():
    a = c([[1 + 1j, 0]])
    assert float(losses.complex_cosine_similarity(a, a)) == pytest.approx(1.0)
    assert float(losses.complex_cosine_similarity(a, 1j * a)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.complex_cosine_similarity(a, -a)) == pytest.approx(-1.0)


def test_feature_loss_golden_and_scale_free_in_the_teacher():
    t = c([[1, 1j]]).reshape(1, 1, 2)
    assert float(losses.feature_loss(t, t)) == pytest.approx(0.0, abs=1e-6)
    s = torch.zeros_like(t)
    # nmse 1, cosine term 0.02 * (1 - 0), mean gap |t|^2 / |t|^2 = 1 -> 0.01
    assert float(losses.feature_loss(s, t)) == pytest.approx(1.0 + 0.02 + 0.01, rel=1e-5)


@pytest.mark.parametrize("fn", ["normalised_mse", "variance_loss", "moment_loss", "feature_loss"])
def test_no_nan_on_zero_input(fn):
    z = torch.zeros(2, 16, 3, dtype=torch.complex64)
    assert torch.isfinite(getattr(losses, fn)(z, z))
    assert torch.isfinite(losses.confidence_loss(z, z, z, 2.0))
    assert torch.isfinite(losses.distillation_loss(z, z, 2.0))


def test_feature_loss_on_real_pairs_equals_the_complex_one():
    from kdssm.distill.projection import FeatureProjection
    from kdssm.models.complex import to_real

    torch.manual_seed(0)
    s = torch.randn(2, 7, 3, dtype=torch.complex64)
    t = torch.randn(2, 7, 5, dtype=torch.complex64)
    proj = FeatureProjection(3, 5)
    complex_side = losses.feature_loss(proj(s), t)
    real_side = losses.feature_loss(proj.real_pairs(s), to_real(t))
    assert float(real_side.detach()) == pytest.approx(float(complex_side.detach()), rel=1e-5)
    g_complex = torch.autograd.grad(complex_side, proj.linear.weight)[0]
    g_real = torch.autograd.grad(real_side, proj.linear.weight)[0]
    assert torch.allclose(g_real, g_complex, rtol=1e-4, atol=1e-6)


def test_column_normalised_mse_counts_a_dim_column_like_a_bright_one():
    bright = c([[[100.0], [0.0]]])  # (1, 2, 1): a point target
    dim = c([[[1.0], [1.0]]])  # clutter alone
    target = torch.cat([bright, dim])  # (2, 2, 1)
    pred = target.clone()
    pred[1] = 0  # the clutter column lost entirely
    assert float(losses.column_normalised_mse(pred, target)) == pytest.approx((0.0 + 1.0) / 2)
    assert float(losses.normalised_mse(pred, target)) == pytest.approx(2.0 / 10002.0)  # unseen in the batch ratio
