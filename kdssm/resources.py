"""What a run will need before it starts: memory per process (and disk), estimated from the config.

Memory of one process, in bytes (complex64 = 8 bytes, float32 = 4):

    parameters            4 P                      (P real scalars; a complex weight counts twice)
    training state        + 12 P                   (gradients 4 P, Adam's two moments 8 P)
    kernel spectra        sum_layers G H N 8       (eval: every grid point's spectrum, cached as a split reads it)
                          + one layer's build      (the chunked exponentials of the up to 2B grid points a
                                                    batch reads first, G_B H M (c + D Q) 8)
    activations, eval     n B L H 8 + A_f B H N 8  (each layer's output is kept for the features;
                                                    one layer's FFT buffers at a time)
    activations, train    n (A_t B H N 8 + C_t B L H 8) + K_t x each layer's kernel build for the grid
                          points its batch touches (kept for backward)
    columns in memory     the splits' x (and y) at N_cols L 3 8, the teacher's targets for distillation

with n layers, H channels, L samples, N = the layer's FFT length (s4d.py), G grid points, B the batch.
The A and C factors count the tensors of one layer alive at the peak; they were fitted once to
peaks measured in a fresh process (kdssm/memory.py) and are checked against new measurements in
tests/test_resources.py (within 30 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import psutil

from .config import ModelConfig
from .config.model import INPUT_CHANNELS, OUTPUT_CHANNELS
from .geometry import Geometry
from .models.range_grid import build_grid
from .models.s4d_kernel import fast_length

COMPLEX = 8
FORWARD_FFT_BUFFERS = 4.0  # A_f: u_f, the column spectra (two gathered), the inverse transform
TRAIN_FFT_TENSORS = 3.0  # A_t: kept for backward per layer: u_f, the column spectrum, the product
TRAIN_LINE_TENSORS = 6.0  # C_t: the layer's input, conv output, mixed output, gate features
# K_t: autograd keeps each touched grid point's exponentials, their products, the taps and the spectra for
# backward: 2.5-3.2 kernel builds measured (demo teacher and student, columns over the whole swath)
KERNEL_GRAPH_TENSORS = 2.8
CHECKPOINT_OVERHEAD = 64 * 1024  # a checkpoint's pickled structure and config beside the tensors
BASE_OVERHEAD = 6 * 2**20  # FFT plans, BLAS buffers, the allocator's slack: 5-12 MB measured on small models


class ResourceError(ValueError):
    """A run that cannot fit: one line with the estimate, what is available and the knob that lowers it."""


@dataclass
class MemoryEstimate:
    parameters: int
    training_state: int
    kernel_spectra: int
    activations: int
    columns: int = 0

    @property
    def total(self) -> int:
        return self.parameters + self.training_state + self.kernel_spectra + self.activations + self.columns

    def lines(self) -> list[str]:
        parts = {
            "parameters": self.parameters,
            "training state": self.training_state,
            "kernel spectra": self.kernel_spectra,
            "activations": self.activations,
            "columns in memory": self.columns,
        }
        return [f"{name}: {mb(value)}" for name, value in parts.items() if value] + [f"total: {mb(self.total)}"]


def mb(n: int) -> str:
    """Bytes for a reader: '0.4 MB', '84 MB', '1.2 GB'."""
    if n >= 2**30:
        return f"{n / 2**30:,.1f} GB"
    return f"{n / 2**20:,.1f} MB" if n < 10 * 2**20 else f"{n / 2**20:,.0f} MB"


def _layer_shape(cfg: ModelConfig, length: int) -> tuple[int, int, int]:
    """(grid points G, FFT length N, lags per side) of one S4D layer of cfg at lines of `length`."""
    geometry = Geometry.from_dict(cfg.geometry) if cfg.geometry is not None else None
    grid = build_grid(geometry, cfg.range_conditioning, cfg.range_grid, cfg.range_points_per_aperture)
    half = None if grid.half_aperture is None else int(max(grid.half_aperture))
    taps = length if half is None else min(length, half + 1)
    n = 2 * length if half is None else fast_length(length + taps - 1)
    return len(grid), n, taps


def parameter_count(cfg: ModelConfig) -> int:
    """Real scalars of a SarSSM with cfg (models/sarssm.py, s4d.py, gate.py), without building it."""
    h = cfg.model_dim
    directions = 2 if cfg.bidirectional else 1
    per_layer = (
        h  # log_dt
        + (h if cfg.range_conditioning else 0)  # dt_slope
        + h * 2  # D (real view)
        + 2 * h * h  # mixing
        + (2 * h if cfg.norm == "layer" else 0)
        + (h if cfg.activation == "modrelu" else 0)
    )
    per_mode = 2 * h + directions * h * 2  # a_log_re, a_im; C (real view) per direction
    modes = sum(n // 2 for n in cfg.layer_state_dims)
    gated = len(cfg.gated_layer_indices)
    gate = 2 * h * cfg.gate_width + (cfg.gate_width + 3) * cfg.gate_hidden + cfg.gate_hidden + 2 * cfg.gate_hidden + 2
    return 2 * h + cfg.num_layers * per_layer + modes * per_mode + gated * gate + 2 * h * OUTPUT_CHANNELS


def kernel_build(cfg: ModelConfig, points: int, taps: int, n: int, spectra: bool) -> int:
    """Bytes of building the kernels of `points` grid points in one layer (s4d_kernel.py's chunked path):
    the inner (points, H, M, c) and outer (points, D, H, M, Q) exponentials, the taps, and with
    `spectra` the circular layout and its FFT (points, H, N); M of the layer with the most modes."""
    h, m = cfg.model_dim, max(cfg.layer_state_dims) // 2
    d = 2 if cfg.bidirectional else 1
    chunk = math.ceil(math.sqrt(taps))
    blocks = math.ceil(taps / chunk)
    total = points * h * m * (chunk + d * blocks) + points * d * h * taps
    if spectra:
        total += 2 * points * h * n
    return total * COMPLEX


def model_memory(cfg: ModelConfig, batch: int, length: int, mode: str = "forward") -> MemoryEstimate:
    """Memory of one `forward` (eval, kernels built and cached) or `train` step of a SarSSM with cfg at
    (batch, length)."""
    p = parameter_count(cfg)
    g, n, taps = _layer_shape(cfg, length)
    h, layers = cfg.model_dim, cfg.num_layers
    line = batch * length * h * COMPLEX
    spectra = batch * h * n * COMPLEX
    inputs = batch * length * (INPUT_CHANNELS + OUTPUT_CHANNELS) * COMPLEX + BASE_OVERHEAD
    if mode == "forward":
        cache = layers * g * h * n * COMPLEX
        # the last layer's build of the grid points its batch reads first (s4d.grid_spectra), beside the caches
        building = kernel_build(cfg, min(g, 2 * batch), taps, n, spectra=True)
        return MemoryEstimate(
            4 * p, 0, cache + building, int(layers * line + FORWARD_FFT_BUFFERS * spectra + 3 * line + inputs)
        )
    touched = min(g, 2 * batch)  # the grid points a batch's columns read: their kernels stay in the graph
    kernel_graph = int(KERNEL_GRAPH_TENSORS * layers * kernel_build(cfg, touched, taps, n, spectra=True))
    return MemoryEstimate(
        4 * p,
        12 * p,
        0,
        int(layers * (TRAIN_FFT_TENSORS * spectra + TRAIN_LINE_TENSORS * line) + kernel_graph + inputs),
    )


def available_memory() -> int:
    """Bytes this machine can give a new allocation now (MemAvailable)."""
    return int(psutil.virtual_memory().available)


def columns_bytes(data_cfg, length: int, with_unlabelled: bool = False) -> int:
    """The splits' columns held in memory: x (2 channels) and y, complex64; an .npz counts its file size."""
    import os

    total = 0
    for which in ("train", "val", "test") + (("unlabelled",) if with_unlabelled else ()):
        path = getattr(data_cfg, f"{which}_npz", None)
        if path and os.path.isfile(path):
            total += os.path.getsize(path)
        else:
            channels = 2 if which == "unlabelled" else 3
            total += getattr(data_cfg, f"{which}_size") * length * channels * COMPLEX
    return total


def run_memory(cfg, teacher: ModelConfig | None = None, layers_cached: int = 0) -> MemoryEstimate:
    """One training (or, with `teacher`, distillation) process of RunConfig cfg: the larger of a training
    step and a validation forward, the columns, and a teacher's forward and targets."""
    from .data.datasets import data_columns

    length = data_columns(cfg.data).length
    batch = cfg.training.batch_size
    train = model_memory(cfg.model, batch, length, "train")
    val = model_memory(cfg.model, max(batch, 64), length, "forward")
    step = max(train.activations + train.kernel_spectra, val.activations + val.kernel_spectra)
    columns = columns_bytes(cfg.data, length, with_unlabelled=teacher is not None)
    extra = 0
    if teacher is not None:
        n = cfg.data.train_size + cfg.data.val_size + cfg.data.unlabelled_size
        targets = n * length * COMPLEX * (1 + teacher.model_dim * layers_cached)
        t_fwd = model_memory(teacher, 64, length, "forward")
        extra = targets + t_fwd.parameters
        step = max(step, t_fwd.activations + t_fwd.kernel_spectra)
    return MemoryEstimate(train.parameters, train.training_state, 0, int(step + extra), columns)


def device_memory(accelerator: str) -> tuple[int, str]:
    """(bytes available, where) for the run's accelerator: the GPU's free memory, else the machine's."""
    import torch

    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        return int(free), "on the GPU"
    return available_memory(), "in this machine"


def check_run(cfg, what: str, teacher: ModelConfig | None = None) -> MemoryEstimate:
    """Refuse (one line, nothing written yet) a run whose estimate exceeds the memory it will run in."""
    estimate = run_memory(cfg, teacher)
    available, where = device_memory(cfg.training.accelerator)
    if estimate.total > available:
        raise ResourceError(
            f"{what} needs about {mb(estimate.total)} of memory ({mb(estimate.parameters)} of "
            f"parameters), {mb(available)} is available {where}; lower model.model_dim, "
            "model.state_dim, model.num_layers, training.batch_size or the data sizes"
        )
    return estimate


def free_disk(path) -> int:
    """Free bytes on the disk that holds `path` (or its nearest existing parent)."""
    import shutil
    from pathlib import Path

    folder = Path(path).resolve()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def room_for(path, needed: int, what: str) -> bool:
    """Whether `needed` bytes fit on path's disk; if not, say in one line what falls back."""
    import sys

    free = free_disk(path)
    if needed <= free:
        return True
    print(f"kdssm: notice: {what}: it needs about {mb(needed)} of disk, {mb(free)} is free at {path}", file=sys.stderr)
    return False


def disk_needs(cfg, teacher: ModelConfig | None = None) -> dict[str, int]:
    """Bytes a run folder grows to: model.ckpt (weights), Lightning's last and best (weights, Adam's
    moments and the optimizer's bookkeeping), and a distillation's teacher cache (its outputs)."""
    from .data.datasets import data_columns

    p = parameter_count(cfg.model)
    needs = {"model.ckpt": 4 * p + CHECKPOINT_OVERHEAD, "checkpoints (last, best)": 2 * (12 * p + CHECKPOINT_OVERHEAD)}
    if teacher is not None:
        n = cfg.data.train_size + cfg.data.val_size + cfg.data.unlabelled_size
        needs["teacher cache (outputs)"] = n * data_columns(cfg.data).length * COMPLEX
    return needs


def check_disk(save_dir, needs: dict[str, int], what: str) -> None:
    """Refuse (one line, nothing written) a run folder whose checkpoints the disk cannot hold."""
    needed, free = sum(needs.values()), free_disk(save_dir)
    if needed > free:
        raise ResourceError(
            f"{what} in {save_dir} needs about {mb(needed)} of disk for its checkpoints, {mb(free)} is free there"
        )


SCENE_PEAK_ARRAYS = 16  # simulate_scene's peak, in complex64 scene-sized arrays (measured: 15.5 at 4096 x 2048)


def check_scene(azimuth: int, range_bins: int, output, disk_arrays: int = 2, columns: int | None = None) -> None:
    """Refuse (one line, before any allocation) a simulated scene that memory or the output's disk cannot hold:
    range_bins simulated at once, `disk_arrays` arrays of (azimuth, columns or range_bins) written."""
    scene = azimuth * range_bins * COMPLEX
    needed, available = SCENE_PEAK_ARRAYS * scene, available_memory()
    if needed > available:
        raise ResourceError(
            f"a scene of {azimuth} x {range_bins} needs about {mb(needed)} of memory to simulate, {mb(available)} "
            "is available; lower --azimuth or --range_bins"
        )
    free, written = free_disk(output), disk_arrays * azimuth * (columns or range_bins) * COMPLEX
    if written > free:
        raise ResourceError(
            f"a scene of {azimuth} x {columns or range_bins} needs about {mb(written)} of disk, {mb(free)} is free"
        )


def check_scoring(
    models: list[ModelConfig],
    columns: int,
    length: int,
    what: str,
    advice: str = "score fewer columns (--num_columns) or fewer models at once",
) -> None:
    """Refuse (one line) scoring `columns` columns with each model in turn (evaluate, compare): the
    largest eval forward at batch 64 (evaluate.predict's) beside the columns and every model's weights."""
    forwards = [model_memory(m, 64, length, "forward") for m in models]
    worst = max(f.kernel_spectra + f.activations for f in forwards)
    estimate = MemoryEstimate(sum(f.parameters for f in forwards), 0, 0, worst, columns * length * 3 * COMPLEX)
    available = available_memory()
    if estimate.total > available:
        raise ResourceError(
            f"{what} needs about {mb(estimate.total)} of memory, {mb(available)} is available; {advice}"
        )
