"""Overlap-save tiles: every sample kept once, seams invisible for linear focusers (<= -60 dB)."""

import numpy as np
import pytest
import torch

from kdssm import metrics
from kdssm.data.scene import matched_filter_lines, simulate_scene
from kdssm.deploy.engine import ModelLines
from kdssm.deploy.tiles import focus_tiled, plan_tiles, receptive_half_width

from .models import MINI, gated_student, linear_student


@pytest.fixture(scope="module")
def long_lines():
    """Eight 4,096-sample azimuth lines across the swath: raw (8, 4096) complex64 and p (8,)."""
    scene = simulate_scene(MINI, 4096, 8, seed=2)
    p = np.linspace(0.0, 1.0, 8)
    return scene["raw"].T.copy(), p


@pytest.mark.parametrize(
    "length, tile, overlap", [(4096, 1024, 99), (1000, 300, 100), (1025, 1024, 99), (500, 1024, 99), (777, 201, 100)]
)
def test_every_sample_is_kept_once_with_its_overlap(length, tile, overlap):
    kept = np.zeros(length, dtype=int)
    for start, lo, hi in plan_tiles(length, tile, overlap):
        kept[lo:hi] += 1
        assert start >= 0 and start + min(tile, length) <= length
        assert lo - start >= overlap or start == 0  # an overlap before, or the line's own start
        assert start + tile - hi >= overlap or start + tile >= length
    assert (kept == 1).all()


def test_tiles_must_leave_room_between_overlaps():
    with pytest.raises(ValueError, match="tile_length 198 leaves no samples"):
        plan_tiles(4096, 198, 99)


def test_matched_filter_tiles_have_no_seams(long_lines):
    lines, p = long_lines
    whole = matched_filter_lines(lines, p, MINI)  # the whole line at once

    def focus(tiles, tile_p):
        return torch.from_numpy(matched_filter_lines(tiles.numpy(), tile_p.numpy(), MINI))

    tiled = focus_tiled(focus, torch.from_numpy(lines), torch.from_numpy(p.astype(np.float32)), 512, 99)
    assert metrics.nmse_db(tiled, torch.from_numpy(whole)) <= -60


def test_linear_student_tiles_have_no_seams(long_lines):
    lines, p = long_lines
    model = linear_student()
    assert receptive_half_width(model) == 2 * 49  # two layers windowed to mini's largest half aperture
    engine = ModelLines(model, MINI, tile_length=1024)
    assert engine.overlap == 99 and engine.exact
    tiled = engine.focus_lines(lines, p)
    whole = ModelLines(model, MINI, tile_length=4096).focus_lines(lines, p)  # one tile: the whole line
    assert metrics.nmse_db(torch.from_numpy(tiled), torch.from_numpy(whole)) <= -60
    # and the tiles were really cut: a tile length that leaves too little overlap shows seams
    short = ModelLines(model, MINI, tile_length=1024)
    short.overlap = 20
    assert metrics.nmse_db(torch.from_numpy(short.focus_lines(lines, p)), torch.from_numpy(whole)) > -60


def test_gated_student_is_tiled_too(long_lines):
    """A gated model is not linear, so tiles are not exact (the per-tile scale), but they stay close."""
    lines, p = long_lines
    model = gated_student()
    tiled = ModelLines(model, MINI, tile_length=1024).focus_lines(lines, p)
    whole = ModelLines(model, MINI, tile_length=4096).focus_lines(lines, p)
    assert np.isfinite(tiled).all()
    assert metrics.nmse_db(torch.from_numpy(tiled), torch.from_numpy(whole)) < -20
