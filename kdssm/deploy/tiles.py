"""Overlap-save tiles: focus azimuth lines of any length with a model that runs on tiles of T samples.

Output segment k is [k S, (k + 1) S) with step S = T - 2 V; its tile is the T input samples
[k S - V, k S - V + T), shifted inside the line at its ends (a line's ends are the same edge for
the tile and for the whole line). An output sample depends on the inputs within the model's
receptive field, at most V samples away on either side, and every kept sample has V samples of its
tile on both sides (or the line's end), so for a model whose receptive field fits in V the tiled
output equals focusing the whole line at once (tests/deploy/test_tiles.py: <= -60 dB for the
matched filter and a linear student). V is at least one aperture (the largest Na of the swath).

A layer with a geometry windows its kernels to the aperture, |l| <= (Na - 1) / 2, and gates and
norms act per sample, so a model's receptive field is the sum of its layers' half windows; a layer
without a window reaches the whole tile and no overlap makes tiles exact (`receptive_half_width`
says None).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

LineFocuser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # lines (N, T) complex64, p (N,) -> (N, T)


def receptive_half_width(model: torch.nn.Module) -> int | None:
    """Samples an output reaches on either side through all layers; None when some layer is unwindowed."""
    total = 0
    for layer in model.layers:
        half = layer.conv.max_half
        if half is None:
            return None
        total += half
    return total


def default_tile_length(overlap: int, minimum: int = 1024) -> int:
    """A tile four times its overlaps (a quarter of the work is overlap), at least `minimum`, a multiple of 64."""
    return 64 * math.ceil(max(minimum, 8 * overlap) / 64)


def plan_tiles(line_length: int, tile_length: int, overlap: int) -> list[tuple[int, int, int]]:
    """(tile start, kept start, kept end) per tile, absolute sample indices; one tile when the line fits."""
    if line_length <= tile_length:
        return [(0, 0, line_length)]
    step = tile_length - 2 * overlap
    if step < 1:
        raise ValueError(
            f"tile_length {tile_length} leaves no samples between overlaps of {overlap} on each side "
            f"(needs > {2 * overlap})"
        )
    tiles = []
    for kept_start in range(0, line_length, step):
        kept_end = min(kept_start + step, line_length)
        start = min(max(kept_start - overlap, 0), line_length - tile_length)
        tiles.append((start, kept_start, kept_end))
    return tiles


def focus_tiled(
    focus: LineFocuser, lines: torch.Tensor, p: torch.Tensor, tile_length: int, overlap: int
) -> torch.Tensor:
    """lines (N, A) complex64, p (N,) float32 -> (N, A) complex64 focused tile by tile (module docstring).

    All tiles of all lines go through `focus` in one call per tile length (at most two lengths).
    """
    n, length = lines.shape
    plan = plan_tiles(length, tile_length, overlap)
    if len(plan) == 1:
        return focus(lines, p)
    size = tile_length
    starts = torch.tensor([s for s, _, _ in plan])  # (K,)
    index = starts[:, None] + torch.arange(size)[None, :]  # (K, T)
    tiles = lines[:, index].reshape(n * len(plan), size)  # (N K, T) complex64
    focused = focus(tiles, p.repeat_interleave(len(plan))).reshape(n, len(plan), size)  # (N, K, T)
    out = torch.empty_like(lines)
    for k, (start, kept_start, kept_end) in enumerate(plan):
        out[:, kept_start:kept_end] = focused[:, k, kept_start - start : kept_end - start]
    return out
