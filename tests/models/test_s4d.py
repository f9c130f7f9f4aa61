import pytest
import torch

from kdssm.models.s4d import S4DConv, interpolation_weights
from kdssm.models.s4d_kernel import circular_kernel, kernel_chunked, kernel_reference


def _random_modes(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = torch.complex(torch.randn(shape, generator=g), torch.randn(shape, generator=g))
    dt_a = torch.complex(-torch.rand(shape, generator=g) * 0.05, torch.rand(shape, generator=g) * 3.0)
    return c, dt_a


@pytest.mark.parametrize("length", [1, 7, 64, 257, 1000])
def test_fast_kernel_equals_reference(length):
    c, dt_a = _random_modes((3, 4, 17))
    ref = kernel_reference(c, dt_a, length)
    fast = kernel_chunked(c, dt_a, length)
    assert fast.shape == ref.shape == (3, 4, length) and fast.dtype == torch.complex64
    torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def test_fast_kernel_gradients_equal_reference():
    grads = []
    for fn in (kernel_reference, kernel_chunked):
        c, dt_a = _random_modes((2, 5, 9), seed=1)
        c.requires_grad_(True)
        dt_a.requires_grad_(True)
        k = fn(c, dt_a, 300)
        (k.real.sum() + (k * k.conj()).real.sum() * 0.01).backward()
        grads.append((c.grad, dt_a.grad))
    for ref, fast in zip(*grads):
        torch.testing.assert_close(fast, ref, rtol=1e-3, atol=1e-3 * float(ref.abs().max()))


def _direct_two_sided(u, causal, anticausal):
    """y[i] = sum_l causal[l] u[i-l] + sum_{l>=1} anticausal[l] u[i+l], by loops: (L,) complex."""
    n = u.shape[0]
    y = torch.zeros(n, dtype=torch.complex128)
    for i in range(n):
        for j in range(n):
            y[i] += (causal[i - j] if j <= i else anticausal[j - i]) * u[j]
    return y


def test_layer_convolution_matches_direct_two_sided_sum():
    torch.manual_seed(0)
    conv = S4DConv(1, 8, bidirectional=True).double()
    conv.d.data.zero_()
    u = torch.randn(1, 12, 1, dtype=torch.complex64)
    y = conv(u)[0, :, 0]
    k = conv.kernels(12)[0, :, 0].to(torch.complex128)  # (D, L)
    expected = _direct_two_sided(u[0, :, 0].to(torch.complex128), k[0], k[1])
    torch.testing.assert_close(y.to(torch.complex128), expected, rtol=1e-4, atol=1e-5)


def test_causal_layer_ignores_the_future():
    torch.manual_seed(0)
    conv = S4DConv(3, 16, bidirectional=False)
    u = torch.randn(2, 40, 3, dtype=torch.complex64)
    u2 = u.clone()
    u2[:, 30:] += 5.0
    torch.testing.assert_close(conv(u)[:, :30], conv(u2)[:, :30])
    bi = S4DConv(3, 16, bidirectional=True)
    assert not torch.allclose(bi(u)[:, :30], bi(u2)[:, :30])


def test_circular_kernel_layout():
    causal = torch.tensor([1, 2, 3], dtype=torch.complex64)
    anti = torch.tensor([9, 4, 5], dtype=torch.complex64)
    assert circular_kernel(causal, anti).real.tolist() == [1, 2, 3, 0, 5, 4]
    assert circular_kernel(causal, None).real.tolist() == [1, 2, 3, 0, 0, 0]


def test_kernel_cache_reused_without_grad_and_invalidated_by_updates():
    conv = S4DConv(4, 16)
    with torch.no_grad():
        first = conv.kernel_spectrum(32)
        assert conv.kernel_spectrum(32) is first  # cached
        conv.log_dt.add_(0.1)  # an in-place update, as an optimizer step does
        second = conv.kernel_spectrum(32)
    assert second is not first and not torch.allclose(second, first)
    assert conv.kernel_spectrum(32).requires_grad  # with grad: rebuilt, differentiable


def test_cache_follows_load_state_dict():
    a, b = S4DConv(2, 8), S4DConv(2, 8)
    u = torch.randn(1, 16, 2, dtype=torch.complex64)
    with torch.no_grad():
        a(u)
        a.load_state_dict(b.state_dict())
        torch.testing.assert_close(a(u), b(u))


def test_range_conditioning_interpolates_between_grid_kernels():
    torch.manual_seed(0)
    conv = S4DConv(2, 8, range_conditioning=True, range_grid=5)
    with torch.no_grad():
        conv.dt_slope.fill_(1.0)
    u = torch.randn(1, 20, 2, dtype=torch.complex64).repeat(3, 1, 1)
    p = torch.tensor([0.25, 0.375, 0.5])  # grid points 1 and 2 of 5, and halfway between
    y = conv(u, p)
    torch.testing.assert_close(y[1], 0.5 * (y[0] + y[2]), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(y[0], y[2])
    with pytest.raises(ValueError, match="positional encoding"):
        conv(u)


def test_interpolation_weights_sum_to_one():
    w = interpolation_weights(torch.tensor([0.0, 0.3, 1.0, 1.5, -1.0]), 4)
    torch.testing.assert_close(w.real.sum(dim=1), torch.ones(5))
    assert w[2, 3].real == 1.0 and w[3, 3].real == 1.0 and w[4, 0].real == 1.0


def test_parameters_are_real():
    conv = S4DConv(2, 8, range_conditioning=True)
    assert all(not p.is_complex() for p in conv.parameters())
