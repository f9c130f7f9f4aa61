"""`kdssm plan`: what a run will need, shown before it runs: memory per process, disk, and the columns
per second a short probe on this machine measures. Nothing is trained or written."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from .config import ModelConfig, RunConfig
from .data.datasets import data_columns, with_column_geometry
from .resources import available_memory, check_run, disk_needs, free_disk, mb, parameter_count, run_memory


def probe(cfg: RunConfig) -> dict[str, float]:
    """Columns per second of one training step and one validation forward, measured here on random columns."""
    from .models import build_model

    length, batch = data_columns(cfg.data).length, cfg.training.batch_size
    torch.manual_seed(0)
    model = build_model(cfg.model)
    x = torch.randn(batch, length, 2, dtype=torch.complex64)
    x[..., 1] = 0.5
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
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
                with torch.no_grad():
                    model(x)
            times.append(time.perf_counter() - start)
        out[f"{mode}_columns_per_second"] = batch / min(times[1:])
    return out


def preflight(
    cfg: RunConfig, teacher: ModelConfig | None = None, save_dir: str | None = None, run_probe: bool = True
) -> dict:
    """The figures `kdssm plan` prints; the probe only when the run fits in memory."""
    cfg = with_column_geometry(cfg, quiet=True)
    estimate = run_memory(cfg, teacher)
    available = available_memory()
    folder = Path(save_dir or ".").resolve()
    result = {
        "memory": estimate,
        "available": available,
        "fits": estimate.total <= available,
        "disk": disk_needs(cfg, teacher),
        "disk_free": free_disk(folder),
        "disk_folder": str(folder),
    }
    if run_probe and result["fits"]:
        check_run(cfg, "the probe", teacher)
        result["probe"] = probe(cfg)
    return result


def format_preflight(cfg: RunConfig, result: dict, what: str) -> str:
    m = cfg.model
    lines = [
        f"{what}: model {m.model_dim}/{m.state_dim}/{m.num_layers} ({parameter_count(m):,} parameters), "
        f"{cfg.data.preset} columns, batch {cfg.training.batch_size}",
        "memory per process (estimate):",
    ]
    lines += [f"  {line}" for line in result["memory"].lines()]
    verdict = "fits" if result["fits"] else "does NOT fit: lower model dims, training.batch_size or the data sizes"
    lines.append(f"  available now: {mb(result['available'])} ({verdict})")
    lines.append(f"disk (in {result['disk_folder']}, {mb(result['disk_free'])} free):")
    lines += [f"  {name}: {mb(size)}" for name, size in result["disk"].items()]
    if "probe" in result:
        p = result["probe"]
        epoch_s = cfg.data.train_size / p["train_columns_per_second"]
        lines.append(
            f"speed on this machine (probe): training {p['train_columns_per_second']:,.0f} columns/s, "
            f"evaluation {p['forward_columns_per_second']:,.0f} columns/s; an epoch of "
            f"{cfg.data.train_size:,} columns about {epoch_s:.0f} s"
        )
    return "\n".join(lines)
