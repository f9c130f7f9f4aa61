import torch

from kdssm.models.complex import ComplexActivation, ComplexDropout, ComplexLayerNorm, ComplexLinear


def test_complex_linear_is_a_true_complex_product_with_real_parameters():
    torch.manual_seed(0)
    layer = ComplexLinear(3, 4)
    assert all(not p.is_complex() for p in layer.parameters())
    x = torch.randn(5, 3, dtype=torch.complex64)
    w = torch.complex(layer.weight[..., 0], layer.weight[..., 1])
    b = torch.complex(layer.bias[..., 0], layer.bias[..., 1])
    expected = x @ w.T + b
    torch.testing.assert_close(layer(x), expected)
    # cross terms: a purely imaginary input reaches the real output through Im(W)
    y = layer(1j * x.real.to(torch.complex64))
    assert y.real.abs().sum() > 0


def test_split_activation_acts_on_real_and_imaginary_parts():
    z = torch.tensor([complex(-1.0, 2.0)], dtype=torch.complex64)
    out = ComplexActivation("tanh", 1)(z)
    torch.testing.assert_close(out, torch.complex(torch.tanh(z.real), torch.tanh(z.imag)))
    assert torch.equal(ComplexActivation("identity", 1)(z), z)


def test_modrelu_keeps_phase():
    z = torch.tensor([complex(3.0, 4.0)], dtype=torch.complex64)
    act = ComplexActivation("modrelu", 1)
    with torch.no_grad():
        act.bias.fill_(-1.0)
    out = act(z)
    torch.testing.assert_close(out.angle(), z.angle())
    torch.testing.assert_close(out.abs(), torch.tensor([4.0]))


def test_complex_dropout_drops_real_and_imaginary_together():
    torch.manual_seed(0)
    drop = ComplexDropout(0.5).train()
    z = torch.ones(1000, dtype=torch.complex64) * complex(1.0, 1.0)
    out = drop(z)
    assert torch.equal(out.real == 0, out.imag == 0)
    assert 0.4 < float((out == 0).float().mean()) < 0.6
    drop.eval()
    assert torch.equal(drop(z), z)


def test_complex_layer_norm_normalises_magnitude():
    z = torch.randn(4, 10, 8, dtype=torch.complex64) * 50 + 3
    out = ComplexLayerNorm(8)(z)
    torch.testing.assert_close(out.mean(dim=-1), torch.zeros(4, 10, dtype=torch.complex64), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.abs().pow(2).mean(dim=-1), torch.ones(4, 10), atol=1e-3, rtol=0)


def test_power_is_the_squared_magnitude_with_its_gradient():
    from kdssm.models.complex import power

    z = torch.randn(3, 5, 4, dtype=torch.complex128, requires_grad=True)
    assert torch.allclose(power(z), z.detach().abs() ** 2)
    assert torch.autograd.gradcheck(power, (z,))
    a, b = z.detach().clone().requires_grad_(), z.detach().clone().requires_grad_()
    (power(a) * torch.arange(4.0)).sum().backward()
    (b.abs().pow(2) * torch.arange(4.0)).sum().backward()
    assert torch.allclose(a.grad, b.grad)
    zero = torch.zeros(2, dtype=torch.complex64, requires_grad=True)
    power(zero).sum().backward()
    assert torch.equal(zero.grad, torch.zeros_like(zero))  # smooth at 0: no NaN
    assert torch.allclose(power(z.detach().conj()), power(z.detach()))  # a conjugate view
    assert torch.equal(power(torch.tensor([-2.0, 3.0])), torch.tensor([4.0, 9.0]))  # real: the square
