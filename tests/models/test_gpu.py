"""CUDA checks: run where a GPU is present, skipped with the reason elsewhere."""

import pytest
import torch

from kdssm.checkpoint import save_model
from kdssm.data import simulate
from kdssm.geometry import PRESETS
from kdssm.models import SarSSM

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


@pytest.mark.parametrize("geometry", [None, PRESETS["mini"].geometry().to_dict()])
def test_cuda_forward_matches_cpu_and_load_model_on_cuda(tmp_path, geometry):
    """Both range grids (uniform, aperture-keyed with the matched-filter start) and gated layers."""
    import kdssm

    torch.manual_seed(0)
    model = SarSSM(
        model_dim=8, state_dim=32, num_layers=2, range_conditioning=True, use_selectivity=True, geometry=geometry
    ).eval()
    x, _ = simulate("mini", 4, 0)
    with torch.no_grad():
        cpu = model(x)
        gpu = model.cuda()(x.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3)
    save_model(model.cpu(), tmp_path / "model.ckpt", "teacher")
    loaded = kdssm.load_model(tmp_path, device="cuda")
    assert next(loaded.parameters()).is_cuda


def test_autocast_keeps_ffts_in_fp32():
    model = SarSSM(model_dim=8, state_dim=32, num_layers=2).cuda()
    x, y = simulate("mini", 4, 0)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(x.cuda())
    assert out.dtype == torch.complex64 and torch.isfinite(torch.view_as_real(out)).all()
    (out - y.cuda()).abs().pow(2).mean().backward()


@pytest.mark.parametrize("targets", [False, True])
def test_cuda_valid_shrink_matches_cpu(targets):
    """The noise probe (FFTs, sort), CLEAN's targets, the window means and the gain on the device."""
    torch.manual_seed(0)
    model = SarSSM(
        model_dim=4,
        state_dim=32,
        num_layers=2,
        gate_region="edges",
        gate_layers="not_first",
        valid_shrink=True,
        shrink_targets=targets,
        geometry=PRESETS["mini"].geometry().to_dict(),
    ).eval()
    with torch.no_grad():
        model.shrink.out.weight.normal_(0.0, 0.3)
        x, _ = simulate("mini", 4, 0, kind="low_snr")  # its targets 5-20 dB above clutter of the noise's power
        cpu = model(x)
        gpu = model.cuda()(x.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3 * float(cpu.abs().max()))
