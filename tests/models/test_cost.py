"""The MAC count of a model against a count by hand."""

import math

from kdssm.geometry import PRESETS
from kdssm.models import SarSSM
from kdssm.models.cost import macs_per_column


def test_mac_count_of_a_small_gated_model_by_hand():
    # H 2, 2 layers, no geometry (no window: N = 2L = 64 for L 32), a modReLU, a gate on the last layer
    # (width 3, hidden 5), layer norm on both.
    model = SarSSM(
        model_dim=2, state_dim=8, num_layers=2, geometry=None, init="random", activation="modrelu", norm="layer",
        gate_layers="last", gate_width=3, gate_hidden=5,
    )  # fmt: skip
    h, length, n = 2, 32, 64
    fft = 4 * h * (n // 2) * int(math.log2(n))  # 4 * 2 * 32 * 6 = 1,536
    layer = 4 * h * length + (2 * fft + 8 * h * n + 4 * h * length) + 2 * h * length + 4 * h * h * length
    gate = 4 * 3 * h * length + (3 + 3) * 5 * length + 2 * 5 * length + 4 * h * length
    want = 4 * h * length + 2 * layer + gate + 4 * h * length
    assert fft == 1536 and layer == 256 + (3072 + 1024 + 256) + 128 + 512
    assert gate == 768 + 960 + 320 + 256
    assert macs_per_column(model, length) == want == 256 + 2 * 5248 + 2304 + 256  # 13,312


def test_the_count_follows_the_window_and_grows_with_the_model():
    g = PRESETS["mini"].geometry().to_dict()
    small = SarSSM(model_dim=4, state_dim=16, num_layers=2, geometry=g, use_selectivity=False)
    large = SarSSM(model_dim=16, state_dim=16, num_layers=3, geometry=g, use_selectivity=False)
    assert small.layers[0].conv.fft_length(256) < 2 * 256  # the window shortens the FFT
    assert 0 < macs_per_column(small, 256) < macs_per_column(large, 256)
