"""Shared by the benchmarks: the machine's description, writing results as JSON, the distillation recipe."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def roofline_pass(lines: torch.Tensor, spectra: torch.Tensor) -> torch.Tensor:
    """The FFT roofline of one focusing pass: lines (B, L) complex64 padded to the spectra's length M, one
    forward FFT, one multiplication by a spectrum per line (B, M), one inverse FFT; what any single-pass
    focusing must do, nothing cached or sliced."""
    padded = torch.nn.functional.pad(lines, (0, spectra.shape[-1] - lines.shape[-1]))
    return torch.fft.ifft(torch.fft.fft(padded) * spectra)


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        info["commit"] = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
            ).stdout.strip()
            or None
        )
    except OSError:
        info["commit"] = None
    return info


def write_result(name: str, payload: dict) -> Path:
    """benchmarks/results/<name>.json with the machine and a UTC time stamp."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    record = {
        "benchmark": name,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        **payload,
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def add_recipe_args(parser: argparse.ArgumentParser) -> None:
    """--alpha --beta --gamma --preserve_distribution, by default the recipe that measurably transfers:
    the ground truth and the teacher's labels alone (distill_gain.py; README, *Does distillation transfer?*)."""
    parser.add_argument("--alpha", type=float, default=0.5, help="ground-truth weight (labelled columns)")
    parser.add_argument("--beta", type=float, default=0.5, help="teacher-label weight (every column)")
    parser.add_argument("--gamma", type=float, default=0.0, help="feature-matching weight")
    parser.add_argument(
        "--preserve_distribution", action="store_true", help="add the variance, moment and confidence terms"
    )


def recipe(args: argparse.Namespace) -> dict:
    """The distillation section's overrides the recipe flags give."""
    return {k: getattr(args, k) for k in ("alpha", "beta", "gamma", "preserve_distribution")}


def front_checkpoints(sweep: Path, teacher: Path) -> list[tuple[str, Path, dict | None]]:
    """(name, model.ckpt, its pareto.json front entry) of the teacher (entry None) and every student of a
    sweep's front, named as the benchmarks' tables name them."""
    front = json.loads((sweep / "pareto.json").read_text())["front"]
    students = [(f"student {f['trial_id']}", sweep / f["checkpoint"], f) for f in front]
    return [("teacher", teacher / "model.ckpt", None), *students]
