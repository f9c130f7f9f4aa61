"""A quick-look PNG of a focused scene in dB, built while the scene streams past.

Each batch of range bins is reduced to block maxima of |y| (at most ~1024 x 1024 pixels for any
scene), so the image costs no more memory than a picture, however large the scene.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..files import atomic_write

PIXELS = 1024


class QuickLook:
    """Block-max magnitudes of one or more panels (the model, the matched filter) of an (A, R) scene."""

    def __init__(self, azimuth: int, range_bins: int, panels: list[str]):
        self.fa = max(1, math.ceil(azimuth / PIXELS))  # azimuth samples per pixel
        self.fr = max(1, math.ceil(range_bins / PIXELS))  # range bins per pixel
        rows, cols = math.ceil(azimuth / self.fa), math.ceil(range_bins / self.fr)
        self.images = {name: np.zeros((rows, cols), dtype=np.float32) for name in panels}

    def batch_multiple(self, batch: int) -> int:
        """A batch size of whole pixel columns (batches must start on a pixel boundary)."""
        return self.fr * max(1, math.ceil(batch / self.fr))

    def add(self, name: str, start: int, lines: np.ndarray) -> None:
        """lines (n, A) complex of range bins [start, start + n); start is a multiple of the batch multiple."""
        n, length = lines.shape
        mag = np.abs(lines)  # (n, A)
        pad_a = (-length) % self.fa
        mag = np.pad(mag, ((0, (-n) % self.fr), (0, pad_a)))
        block = mag.reshape(mag.shape[0] // self.fr, self.fr, -1, self.fa).max(axis=(1, 3))  # (n', A')
        col = start // self.fr
        self.images[name][:, col : col + block.shape[0]] = block.T

    def save(self, path: Path, title: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        top = max(float(img.max()) for img in self.images.values()) or 1.0
        fig, axes = plt.subplots(1, len(self.images), figsize=(6 * len(self.images), 5.5), squeeze=False)
        for ax, (name, img) in zip(axes[0], self.images.items()):
            db = 20 * np.log10(np.maximum(img, 1e-12) / top)
            shown = ax.imshow(db, vmin=-60, vmax=0, cmap="gray", aspect="auto", interpolation="nearest")
            ax.set_title(name, fontsize=10)
            ax.set_xlabel(f"range bin / {self.fr}")
            ax.set_ylabel(f"azimuth sample / {self.fa}")
        fig.colorbar(shown, ax=axes[0].tolist(), label="dB (block maxima, 0 = brightest)")
        fig.suptitle(title, fontsize=10)
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
        plt.close(fig)
