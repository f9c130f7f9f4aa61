"""Focusing lines of any length: a trained model folded or on overlap-save tiles, or the matched filter.

`ModelLines` runs a model one of two ways, chosen once per run and said in its figures (`path`):
- folded (inference/folded.py): an edge-gated model at fp32 on whole lines, one cached spectrum per range
  where its gates are closed and the model itself near the lines' ends; the same values as whole-line
  focusing. `fold` auto takes it wherever the model folds and the lines leave an interior, yes demands it.
- tiles: the inference model for a precision (the eager model at fp32, the frozen twin at reduced
  precision, built once per tile length) on overlap-save tiles (tiles.py), run in chunks of
  `tiles_per_call` so memory stays bounded by the batch, not by the scene.
`MatchedFilterLines` is the production matched filter (data/production_filter.py), a filter per line length.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..data.production_filter import ProductionFilter
from ..geometry import Geometry
from ..inference import InferenceModel, freeze
from ..inference.folded import FoldError, choose_fold
from .errors import DeployError
from .precision import check_precision, reduce_precision
from .scene_io import SceneReader
from .tiles import default_tile_length, focus_tiled, receptive_half_width

STREAM_ELEMENTS = 2**21  # complex values of a model's stream per call (16 MB), beyond tiles_per_call


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
        fold: str = "auto",
        length: int | None = None,
    ):
        """length: the lines' (or columns') samples, for the choice of `fold` (auto, yes, no); None: tiles."""
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
        self.folded = None  # FoldedSarSSM when the run folds
        if length is not None:
            try:
                self.folded = choose_fold(model, geometry, length, fold, precision)
            except FoldError as err:
                raise DeployError(f"--fold yes: {err}") from None
        self.path = "folded" if self.folded is not None else "tiles"

    def inference_model(self, length: int) -> torch.nn.Module:
        """The module that runs tiles of `length` samples at this precision."""
        if self.precision == "fp32":
            return self.inference
        if length not in self._frozen:
            frozen = reduce_precision(freeze(self.model, length), self.precision)
            self._frozen[length] = frozen.to(self.device) if self.precision != "int8-dynamic" else frozen
        return self._frozen[length]

    def model_length(self, length: int) -> int:
        """Samples of each line (of `length`) the model itself runs on: both folded ends' windows (2 W at the
        swath's widest aperture), or a tile."""
        if self.folded is not None:
            return min(length, 2 * self.folded.window(torch.tensor([0.0, 1.0]), length))
        return min(self.tile_length, length)

    def per_call(self, length: int) -> int:
        """Tiles (or lines) of `length` samples run in one call: `tiles_per_call`, or more where the model's
        stream (model_dim channels) stays within STREAM_ELEMENTS (a small model's calls are mostly overhead:
        64 mini columns a call ran at 0.55x the speed of 256 for a 468-parameter student)."""
        return max(self.tiles_per_call, STREAM_ELEMENTS // (self.model.config.model_dim * length))

    @torch.no_grad()
    def focus_tiles(self, tiles: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """tiles (N, T) complex64, p (N,) float32 -> (N, T) complex64, per_call(T) at a time."""
        net = self.inference_model(tiles.shape[1])
        device = self.device if self.precision != "int8-dynamic" else torch.device("cpu")
        out = torch.empty_like(tiles)
        step = self.per_call(tiles.shape[1])
        for i in range(0, tiles.shape[0], step):
            line = tiles[i : i + step].to(device)
            pos = p[i : i + step].to(device)
            x = torch.stack([line, pos[:, None].expand_as(line).to(line.dtype)], dim=-1)  # (b, T, 2) complex64
            if self.precision == "fp32":
                y = net(x)[..., 0]  # (b, T) complex64
            else:
                y = torch.view_as_complex(net(torch.view_as_real(x)).contiguous())[..., 0]
            out[i : i + step] = y.cpu()
        return out

    @torch.no_grad()
    def focus_folded(self, lines: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """lines (N, A) complex64, p (N,) float32 -> (N, A) complex64 through the folded model, whole lines,
        per_call(A) at a time."""
        out = torch.empty_like(lines)
        step = self.per_call(lines.shape[1])
        for i in range(0, lines.shape[0], step):
            out[i : i + step] = self.folded.focus(
                lines[i : i + step].to(self.device), p[i : i + step].to(self.device)
            ).cpu()
        return out

    def focus_lines(self, lines: np.ndarray, p: np.ndarray) -> np.ndarray:
        """lines (N, A) complex64, p (N,) -> focused (N, A) complex64."""
        t_lines = torch.from_numpy(np.ascontiguousarray(lines, dtype=np.complex64))
        t_p = torch.from_numpy(np.asarray(p, dtype=np.float32))
        if self.folded is not None:
            return self.focus_folded(t_lines, t_p).numpy()
        return focus_tiled(self.focus_tiles, t_lines, t_p, self.tile_length, self.overlap).numpy()

    def focus_columns(self, x: np.ndarray) -> np.ndarray:
        """Data-card columns x (N, L, 2) complex64 -> y_hat (N, L, 1), each column whole (as trained)."""
        line = torch.from_numpy(np.ascontiguousarray(x[:, :, 0]))
        p = torch.from_numpy(x[:, :, 1].real.mean(axis=1).astype(np.float32))
        focus = self.focus_folded if self.folded is not None else self.focus_tiles
        return focus(line, p).numpy()[..., None]


class MatchedFilterLines:
    """The classical focusing of whole lines with each range bin's own Ka (no tiles needed): the production
    filter, one per line length (its reference spectra kept by range), on the device."""

    def __init__(self, geometry: Geometry, device: str = "cpu"):
        self.geometry, self.device = geometry, device
        self._filters: dict[int, ProductionFilter] = {}

    def _filter(self, length: int) -> ProductionFilter:
        if length not in self._filters:
            self._filters[length] = ProductionFilter(self.geometry, length, self.device)
        return self._filters[length]

    def focus_lines(self, lines: np.ndarray, p: np.ndarray) -> np.ndarray:
        t_lines = torch.from_numpy(np.ascontiguousarray(lines, dtype=np.complex64))
        return self._filter(lines.shape[1]).focus_lines(t_lines, np.asarray(p, dtype=np.float64)).cpu().numpy()

    def focus_columns(self, x: np.ndarray) -> np.ndarray:
        p = x[:, :, 1].real.mean(axis=1)
        return self.focus_lines(x[:, :, 0], p)[..., None]


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
    fold: str = "auto",
    length: int | None = None,
) -> dict:
    """{output array name: focuser}: the model, and the matched filter beside it with compare. length: the
    lines' samples (the fold's choice, ModelLines)."""
    focusers = {
        main_output(columns): ModelLines(model, geometry, precision, tile_length, device, fold=fold, length=length)
    }
    if compare:
        focusers["matched_filter"] = MatchedFilterLines(geometry, device)
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
