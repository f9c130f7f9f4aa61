import math

import pytest
import torch

from kdssm.geometry import PRESETS
from kdssm.inference import convolve
from kdssm.models.s4d import S4DConv
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


def test_grid_spectra_cached_for_inference_and_invalidated_by_updates():
    conv = S4DConv(4, 16)
    first, slot = conv.grid_spectra(32)
    assert conv.grid_spectra(32)[0] is first and slot.tolist() == [0]  # cached
    torch.testing.assert_close(first, conv.kernel_spectrum(32).detach())  # the table is the kernels' spectra
    with torch.no_grad():
        conv.log_dt.add_(0.1)  # an in-place update, as an optimizer step does
    second, _ = conv.grid_spectra(32)
    assert second is not first and not torch.allclose(second, first)
    assert conv.kernel_spectrum(32).requires_grad  # the reference always builds them, differentiable


def test_cache_follows_load_state_dict():
    a, b = S4DConv(2, 8), S4DConv(2, 8)
    u = torch.randn(1, 2, 16, dtype=torch.complex64)  # (B, H, L) channels-first
    with torch.no_grad():
        convolve(a, u, None)
        a.load_state_dict(b.state_dict())
        torch.testing.assert_close(convolve(a, u, None), convolve(b, u, None))


def test_range_conditioning_interpolates_between_grid_kernels():
    torch.manual_seed(0)
    conv = S4DConv(2, 8, range_conditioning=True, range_grid=5)  # no geometry: 5 equally spaced points
    with torch.no_grad():
        conv.dt_slope.fill_(1.0)
    u = torch.randn(1, 20, 2, dtype=torch.complex64).repeat(3, 1, 1)
    p = torch.tensor([0.25, 0.375, 0.5])  # grid points 1 and 2 of 5, and halfway between
    y = conv(u, p)
    torch.testing.assert_close(y[1], 0.5 * (y[0] + y[2]), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(y[0], y[2])
    with pytest.raises(ValueError, match="positional encoding"):
        conv(u)


def _aperture_conv(seed=0):
    torch.manual_seed(seed)
    conv = S4DConv(2, 8, range_conditioning=True, geometry=PRESETS["mini"].geometry(), points_per_aperture=3)
    with torch.no_grad():
        conv.dt_slope.fill_(-0.5)
        conv.log_dt.fill_(-2.5)
    return conv


def test_aperture_kernels_are_windowed_at_their_grid_point_aperture():
    conv = _aperture_conv()
    with torch.no_grad():
        k = conv.kernels(256)  # (G, D, H, L)
    half = torch.as_tensor(conv.grid.half_aperture)  # (G,)
    lags = torch.arange(256)
    beyond = lags[None, :] > half[:, None]  # (G, L)
    assert float(k.abs().permute(0, 3, 1, 2)[beyond].max()) == 0.0
    assert bool((k[:, :, :, 0].abs() > 0).all()) and bool((k.abs().amax(dim=(1, 2))[~beyond] > 0).all())


def test_aperture_columns_interpolate_within_their_own_aperture_length():
    conv = _aperture_conv()
    grid = conv.grid
    u = torch.randn(1, 128, 2, dtype=torch.complex64)
    lo, hi = 3, 4  # two neighbouring points of one bucket
    assert grid.half_aperture[lo] == grid.half_aperture[hi]
    p = torch.tensor([grid.p[lo], 0.5 * (grid.p[lo] + grid.p[hi]), grid.p[hi]], dtype=torch.float64).float()
    with torch.no_grad():
        y = conv(u.repeat(3, 1, 1), p)
    torch.testing.assert_close(y[1], 0.5 * (y[0] + y[2]), rtol=1e-4, atol=1e-5)
    idx, w = grid.locate(torch.rand(4000))
    same_bucket = grid.half_aperture[idx[:, 0].numpy()] == grid.half_aperture[idx[:, 1].numpy()]
    assert same_bucket.all() and torch.allclose(w.sum(dim=1), torch.ones(4000))
    assert bool((w >= 0).all()) and bool((idx[:, 1] == idx[:, 0] + 1).all())


def test_column_bucket_follows_the_data_card_aperture():
    grid = _aperture_conv().grid
    p = torch.rand(5000, dtype=torch.float64)
    na = PRESETS["mini"].aperture_samples(PRESETS["mini"].slant_range(p.numpy()))
    idx, _ = grid.locate(p)
    assert (2 * grid.half_aperture[idx[:, 0].numpy()] + 1 == na).all()


def test_training_path_builds_only_touched_points_and_equals_the_cached_grid():
    conv = _aperture_conv()
    u = torch.randn(4, 64, 2, dtype=torch.complex64)
    p = torch.tensor([0.05, 0.4, 0.41, 0.97])
    with torch.no_grad():
        cached = conv(u, p)  # whole grid built once, gathered per column
    built = conv(u, p)  # grad enabled: only the touched grid points
    assert built.requires_grad
    torch.testing.assert_close(built.detach(), cached, rtol=1e-4, atol=1e-5)


def test_dt_scaled_family_is_one_continuous_response():
    """K_g[l] = dt_g k(l dt_g): kernels of two step sizes sample one response at their own rates."""
    conv = S4DConv(1, 8, range_conditioning=True, range_grid=2, bidirectional=False)
    with torch.no_grad():
        conv.dt_slope.fill_(math.log(2.0))  # rho = -1/2, +1/2: dt and 2 dt
        conv.log_dt.fill_(math.log(0.05) + 0.5 * math.log(2.0))
    k = conv.kernels(40)[:, 0, 0]  # (2, L): dt = 0.05 and 0.1
    torch.testing.assert_close(k[1, :20] / 0.1, k[0, 0::2] / 0.05, rtol=1e-4, atol=1e-5)


def test_parameters_are_real():
    conv = S4DConv(2, 8, range_conditioning=True)
    assert all(not p.is_complex() for p in conv.parameters())


def test_circular_kernel_at_a_given_length():
    causal = torch.tensor([1, 2, 3], dtype=torch.complex64)
    anti = torch.tensor([9, 4, 5], dtype=torch.complex64)
    assert circular_kernel(causal, anti, 8).real.tolist() == [1, 2, 3, 0, 0, 0, 5, 4]
    with pytest.raises(ValueError, match="cannot hold 3 lags"):
        circular_kernel(causal, anti, 4)


def test_windowed_layer_convolves_at_a_short_length_and_stays_linear():
    """With an aperture window only (Na - 1) / 2 + 1 taps are nonzero: the circular length drops from
    2L to about L + Na / 2, and the output still equals the direct two-sided sum."""
    torch.manual_seed(0)
    conv = S4DConv(1, 16, range_conditioning=True, geometry=PRESETS["mini"].geometry())
    conv.d.data.zero_()
    assert conv.fft_length(256) == 320 < 512  # 256 + 50 - 1 = 305 -> 320 = 5 * 2^6
    u = torch.randn(1, 256, 1, dtype=torch.complex64)
    p = torch.tensor([0.3])
    with torch.no_grad():
        y = conv(u, p)[0, :, 0]
        idx, w = conv.grid.locate(p)
        k = (conv.kernels(256)[idx[0]] * w[0][:, None, None, None]).sum(0)[:, 0]  # (D, L) the column's kernel
    expected = _direct_two_sided(u[0, :, 0].to(torch.complex128), k[0].to(torch.complex128), k[1].to(torch.complex128))
    torch.testing.assert_close(y.to(torch.complex128), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["aperture", "uniform", "single", "causal"])
@pytest.mark.parametrize("length", [200, 1000])
def test_inference_path_equals_the_autograd_path(kind, length):
    torch.manual_seed(0)
    kwargs = {
        "aperture": dict(range_conditioning=True, geometry=PRESETS["mini"].geometry()),
        "uniform": dict(range_conditioning=True, range_grid=8),
        "single": {},
        "causal": dict(bidirectional=False, range_conditioning=True),
    }[kind]
    conv = S4DConv(3, 16, **kwargs)
    u = torch.randn(5, length, 3, dtype=torch.complex64)
    p = torch.rand(5)
    with torch.no_grad():
        fast = conv(u, p)
        again = conv(u, p)  # from the cached tables
    slow = conv(u, p).detach()
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(again, fast)


def test_no_grad_forwards_build_only_the_grid_rows_their_columns_read():
    """A few columns build their own grid points' spectra; later columns add theirs; the table then equals
    the whole grid built at once."""
    torch.manual_seed(0)
    conv = _aperture_conv()
    u = torch.randn(2, 64, 2, dtype=torch.complex64)
    p = torch.tensor([0.1, 0.8])
    with torch.no_grad():
        convolve(conv, u.transpose(1, 2), p)
        (entry,) = conv._cache.values()
        read = conv.grid.locate(p)[0].flatten().unique()
        assert set((entry["slot"] >= 0).nonzero().flatten().tolist()) == set(read.tolist())
        assert entry["rows"].shape[0] == len(read)  # only what was read is held
        whole = conv.kernel_spectrum(64, torch.arange(len(conv.grid)))  # built directly, uncached
        torch.testing.assert_close(entry["rows"][entry["slot"][read]], whole[read])
        rows, slot = conv.grid_spectra(64)  # every row now
        assert bool((entry["slot"] >= 0).all()) and rows is entry["rows"]
        torch.testing.assert_close(rows[slot], whole)
