"""Figures: one focused test column, input and every focuser, in dB."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from .data import matched_filter


def _db(z: torch.Tensor) -> torch.Tensor:
    return 20.0 * torch.log10(z.abs().clamp_min(1e-6))


def plot_scene(x: torch.Tensor, y: torch.Tensor, predictions: dict[str, torch.Tensor], preset, path: Path) -> None:
    """Plot the column holding the brightest target: input magnitude, truth, matched filter, each model.
    preset: a preset's name or the Preset (data_columns) the columns follow."""
    col = int(y.abs().amax(dim=(1, 2)).argmax())
    lines = {
        "input |x|": x[col, :, 0],
        "ground truth": y[col, :, 0],
        "matched filter": matched_filter(x[col : col + 1], preset)[0, :, 0],
        **{name: pred[col, :, 0] for name, pred in predictions.items()},
    }
    fig, axes = plt.subplots(len(lines), 1, figsize=(9, 1.6 * len(lines)), sharex=True, sharey=True)
    truth_db = _db(lines["ground truth"])
    for ax, (name, line) in zip(axes, lines.items()):
        if name not in ("input |x|", "ground truth"):
            ax.plot(truth_db.numpy(), color="0.75", lw=0.8, label="truth")
        ax.plot(_db(line).numpy(), lw=0.9)
        ax.set_ylabel("dB")
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_ylim(float(truth_db.max()) - 60, float(truth_db.max()) + 5)
    axes[-1].set_xlabel("azimuth sample")
    name = getattr(preset, "name", preset)  # never the Preset's repr (a geometry dump) in a title
    fig.suptitle(f"test column {col} ({name}, {x.shape[1]} samples): magnitude in dB, truth in grey", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
