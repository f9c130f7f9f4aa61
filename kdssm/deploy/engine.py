"""Focusing lines of any length: a trained model on overlap-save tiles, or the matched filter.

`ModelLines` picks the inference model for a precision (the eager model at fp32, the frozen twin
at reduced precision, built once per tile length), cuts lines into tiles (tiles.py) and runs them
in chunks of `tiles_per_call` so memory stays bounded by the batch, not by the scene.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..data.scene import matched_filter_lines
from ..geometry import Geometry
from ..inference import InferenceModel, freeze
from .errors import DeployError
from .precision import check_precision, reduce_precision
from .scene_io import SceneReader
from .tiles import default_tile_length, focus_tiled, receptive_half_width


class ModelLines:
    """A trained SarSSM focusing lines (N, A) complex64 at positional encodings p (N,)."""

    def __init__(
        self,
        model: torch.nn.Module,
        geometry: Geometry,
        precision: str = "fp32",
        tile_length: int | None = None,
        device: str = "cpu",
        tiles_per_call: int = 64,
    ):
        check_precision(precision)
        if torch.device(device).type == "cuda" and not torch.cuda.is_available():
            raise DeployError(f"--device {device}: CUDA is not available on this machine")
        self.model, self.precision, self.device = model.to(device).eval(), precision, torch.device(device)
        self.tiles_per_call = tiles_per_call
        na_max = int(geometry.aperture_range()[1])
        receptive = receptive_half_width(model)
        self.exact = receptive is not None  # tiles equal whole-line focusing for a linear model
        self.overlap = na_max if receptive is None else max(na_max, receptive)
        self.tile_length = tile_length or default_tile_length(self.overlap)
        if self.tile_length <= 2 * self.overlap:
            raise DeployError(
                f"--tile_length {self.tile_length} must exceed twice the overlap ({2 * self.overlap} "
                "samples: one aperture or the model's receptive field on each side)"
            )
        self.inference = InferenceModel(self.model)  # fp32: complex, any tile length
        self._frozen: dict[int, torch.nn.Module] = {}  # reduced precision: the real-view twin per tile length

    def inference_model(self, length: int) -> torch.nn.Module:
        """The module that runs tiles of `length` samples at this precision."""
        if self.precision == "fp32":
            return self.inference
        if length not in self._frozen:
            frozen = reduce_precision(freeze(self.model, length), self.precision)
            self._frozen[length] = frozen.to(self.device) if self.precision != "int8-dynamic" else frozen
        return self._frozen[length]

    @torch.no_grad()
    def focus_tiles(self, tiles: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """tiles (N, T) complex64, p (N,) float32 -> (N, T) complex64, `tiles_per_call` at a time."""
        net = self.inference_model(tiles.shape[1])
        device = self.device if self.precision != "int8-dynamic" else torch.device("cpu")
        out = torch.empty_like(tiles)
        for i in range(0, tiles.shape[0], self.tiles_per_call):
            line = tiles[i : i + self.tiles_per_call].to(device)
            pos = p[i : i + self.tiles_per_call].to(device)
            x = torch.stack([line, pos[:, None].expand_as(line).to(line.dtype)], dim=-1)  # (b, T, 2) complex64
            if self.precision == "fp32":
                y = net(x)[..., 0]  # (b, T) complex64
            else:
                y = torch.view_as_complex(net(torch.view_as_real(x)).contiguous())[..., 0]
            out[i : i + self.tiles_per_call] = y.cpu()
        return out

    def focus_lines(self, lines: np.ndarray, p: np.ndarray) -> np.ndarray:
        """lines (N, A) complex64, p (N,) -> focused (N, A) complex64."""
        t_lines = torch.from_numpy(np.ascontiguousarray(lines, dtype=np.complex64))
        t_p = torch.from_numpy(np.asarray(p, dtype=np.float32))
        return focus_tiled(self.focus_tiles, t_lines, t_p, self.tile_length, self.overlap).numpy()

    def focus_columns(self, x: np.ndarray) -> np.ndarray:
        """Data-card columns x (N, L, 2) complex64 -> y_hat (N, L, 1), each column as one tile (as trained)."""
        p = x[:, :, 1].real.mean(axis=1)
        return self.focus_tiles(
            torch.from_numpy(np.ascontiguousarray(x[:, :, 0])), torch.from_numpy(p.astype(np.float32))
        ).numpy()[..., None]


class MatchedFilterLines:
    """The classical focusing of whole lines with each range bin's own Ka (no tiles needed)."""

    def __init__(self, geometry: Geometry):
        self.geometry = geometry

    def focus_lines(self, lines: np.ndarray, p: np.ndarray) -> np.ndarray:
        return matched_filter_lines(lines, p, self.geometry)

    def focus_columns(self, x: np.ndarray) -> np.ndarray:
        p = x[:, :, 1].real.mean(axis=1)
        return matched_filter_lines(x[:, :, 0], p, self.geometry)[..., None]


def main_output(columns: bool) -> str:
    """The model's output array: `y_hat` for data-card columns, `focused` for a scene."""
    return "y_hat" if columns else "focused"


def focusers_for(
    model: torch.nn.Module,
    geometry: Geometry,
    columns: bool,
    precision: str = "fp32",
    tile_length: int | None = None,
    device: str = "cpu",
    compare: str | None = None,
) -> dict:
    """{output array name: focuser}: the model, and the matched filter beside it with compare."""
    focusers = {main_output(columns): ModelLines(model, geometry, precision, tile_length, device)}
    if compare:
        focusers["matched_filter"] = MatchedFilterLines(geometry)
    return focusers


def focus_block(reader: SceneReader, focusers: dict, p: np.ndarray | None, start: int, stop: int) -> tuple[dict, dict]:
    """Range bins [start, stop) through every focuser: ({output array name: (n, A) or (n, L, 1) complex64},
    {name: seconds it took})."""
    block = reader.read(start, stop)
    arrays, seconds = {}, {}
    for name, focuser in focusers.items():
        tic = time.perf_counter()
        arrays[name] = focuser.focus_columns(block) if reader.columns else focuser.focus_lines(block, p[start:stop])
        seconds[name] = time.perf_counter() - tic
    return arrays, seconds
