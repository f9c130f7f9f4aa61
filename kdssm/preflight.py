"""`kdssm plan`: what a run will need, shown before it runs: memory per process, disk, and the columns
per second a short probe on this machine measures. Nothing is trained or written."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from .config import ModelConfig, RunConfig
from .data.datasets import data_columns, with_column_geometry
from .inference import infer
from .resources import available_memory, check_run, disk_needs, free_disk, mb, parameter_count, run_memory

GPU_CARDS_GB = (24, 80)  # the cards a cluster config is planned for (cluster.yaml's kinds)
CUDA_CONTEXT = 600 * 2**20  # the CUDA context, cuFFT plans and the caching allocator's slack


def probe(cfg: RunConfig) -> dict[str, float]:
    """Columns per second of one training step and one validation forward, measured here on random columns
    spread over the swath (a batch reads as many grid kernels as a real one), frozen parts frozen."""
    from .models import build_model, freeze_focusing_path

    length, batch = data_columns(cfg.data).length, cfg.training.batch_size
    torch.manual_seed(0)
    model = build_model(cfg.model)
    if cfg.training.freeze_focus:
        freeze_focusing_path(model)
    x = torch.randn(batch, length, 2, dtype=torch.complex64)
    x[..., 1] = torch.rand(batch, 1)  # (B, 1) positional encodings, one per column
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    out = {}
    for mode in ("train", "forward"):
        model.train(mode == "train")
        times = []
        for _ in range(3):  # the first builds what later calls reuse
            start = time.perf_counter()
            if mode == "train":
                optimiser.zero_grad()
                model(x).abs().pow(2).mean().backward()
                optimiser.step()
            else:
                infer(model, x)  # what validation runs
            times.append(time.perf_counter() - start)
        out[f"{mode}_columns_per_second"] = batch / min(times[1:])
    return out


def gpu_memory(cfg: RunConfig, teacher: ModelConfig | None = None, estimate=None) -> int:
    """Bytes one worker holds on its GPU: the estimate (run_memory's, made here unless given) without the
    columns (they stay in host memory and travel a batch at a time), plus the CUDA context."""
    estimate = estimate or run_memory(cfg, teacher)
    return estimate.total - estimate.columns + CUDA_CONTEXT


def largest_batch(cfg: RunConfig, teacher: ModelConfig | None, limit: int) -> int:
    """The largest power-of-two batch (at most 4096) whose GPU estimate fits in `limit` bytes; 0 if none."""
    best, batch = 0, 1
    while batch <= 4096:
        trial = cfg.with_overrides({"training": {"batch_size": batch}})
        if gpu_memory(trial, teacher) > limit:
            break
        best, batch = batch, batch * 2
    return best


def epoch_seconds(cfg: RunConfig, speed: dict[str, float]) -> float:
    """One epoch at the probed speed: the training columns once, the validation columns once."""
    return (
        cfg.data.train_size / speed["train_columns_per_second"]
        + cfg.data.val_size / speed["forward_columns_per_second"]
    )


def preflight(
    cfg: RunConfig, teacher: ModelConfig | None = None, save_dir: str | None = None, run_probe: bool = True
) -> dict:
    """The figures `kdssm plan` prints; the probe only when the run fits in memory."""
    cfg = with_column_geometry(cfg, quiet=True)
    estimate = run_memory(cfg, teacher)
    available = available_memory()
    folder = Path(save_dir or ".").resolve()
    on_gpu = gpu_memory(cfg, teacher, estimate)
    result = {
        "memory": estimate,
        "available": available,
        "fits": estimate.total <= available,
        "disk": disk_needs(cfg, teacher),
        "disk_free": free_disk(folder),
        "disk_folder": str(folder),
        "gpu": {
            gb: {"fits": on_gpu <= gb * 10**9, "largest_batch": largest_batch(cfg, teacher, gb * 10**9)}
            for gb in GPU_CARDS_GB
        },
        "gpu_bytes": on_gpu,
    }
    if run_probe and result["fits"]:
        check_run(cfg, "the probe", teacher)
        result["probe"] = probe(cfg)
        result["run_minutes"] = cfg.training.num_epochs * epoch_seconds(cfg, result["probe"]) / 60.0
    return result


def format_preflight(cfg: RunConfig, result: dict, what: str) -> str:
    m = cfg.model
    lines = [
        f"{what}: model {m.size_label} ({parameter_count(m):,} parameters), "
        f"{cfg.data.preset} columns, batch {cfg.training.batch_size}",
        "memory per process (estimate):",
    ]
    lines += [f"  {line}" for line in result["memory"].lines()]
    verdict = "fits" if result["fits"] else "does NOT fit: lower model dims, training.batch_size or the data sizes"
    lines.append(f"  available now: {mb(result['available'])} ({verdict})")
    lines.append(f"on one GPU per worker (estimate, columns in host memory): {mb(result['gpu_bytes'])}")
    for gb, card in result["gpu"].items():
        verdict = "fits" if card["fits"] else "does NOT fit"
        lines.append(
            f"  {gb} GB card: {verdict} at batch {cfg.training.batch_size}; largest batch {card['largest_batch']}"
        )
    lines.append(f"disk (in {result['disk_folder']}, {mb(result['disk_free'])} free):")
    lines += [f"  {name}: {mb(size)}" for name, size in result["disk"].items()]
    if "probe" in result:
        p = result["probe"]
        epoch_s = cfg.data.train_size / p["train_columns_per_second"]
        lines.append(
            f"speed on this machine (probe): training {p['train_columns_per_second']:,.0f} columns/s, "
            f"evaluation {p['forward_columns_per_second']:,.0f} columns/s; an epoch of "
            f"{cfg.data.train_size:,} columns about {epoch_s:.0f} s; {cfg.training.num_epochs} epochs with validation "
            f"about {result['run_minutes']:.0f} min on this machine"
        )
    return "\n".join(lines)
