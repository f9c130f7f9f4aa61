"""A quick-look PNG of a focused scene in dB, built while the scene streams past.

Each batch of range bins is reduced to block maxima of |y| (at most ~1024 x 1024 pixels for any
scene), so the image costs no more memory than a picture, however large the scene. Panels, left to
right: the truth where the input carries it (a simulated scene's noise-free focused image), the model,
the matched filter (--compare matched_filter), then the differences that tell them apart: each one's
error against the truth where it is known, else model - matched filter. All share one dB scale (0 dB:
the brightest focused pixel), so an error 30 dB down reads as 30 dB down: two focusers that both look
like the truth at this scale differ where their error panels do.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..files import atomic_write

PIXELS = 1024
FLOOR_DB = -80.0  # the darkest shown: errors of good focusers lie 60-70 dB below the brightest pixel
TRUTH, DIFFERENCE, MODEL_ERROR, FILTER_ERROR = "truth", "difference", "model_error", "filter_error"
ERRORS = (DIFFERENCE, MODEL_ERROR, FILTER_ERROR)  # panels of differences, not of focused images
TITLES = {
    TRUTH: "truth (noise-free, from the input)",
    "matched_filter": "matched filter",
    DIFFERENCE: "model - matched filter",
    MODEL_ERROR: "model - truth",
    FILTER_ERROR: "matched filter - truth",
}


def panels(focusers: list[str], truth: bool) -> list[str]:
    """The quick-look's panels, in order, for the focusers' outputs (the model's first) and a known truth."""
    compare = len(focusers) > 1
    if truth:
        return [TRUTH, *focusers, MODEL_ERROR] + ([FILTER_ERROR] if compare else [])
    return [*focusers] + ([DIFFERENCE] if compare else [])


class QuickLook:
    """Block-max magnitudes of the panels (TITLES; the model's under its own output name) of an (A, R) scene."""

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

    def add_lines(self, start: int, lines: dict[str, np.ndarray], main: str, truth: np.ndarray | None) -> None:
        """One batch of every panel: lines {focuser: (n, A) complex}, main the model's, truth (n, A) or None."""
        for name, values in lines.items():
            self.add(name, start, values)
        derived = {
            TRUTH: lambda: truth,
            DIFFERENCE: lambda: lines[main] - lines["matched_filter"],
            MODEL_ERROR: lambda: lines[main] - truth,
            FILTER_ERROR: lambda: lines["matched_filter"] - truth,
        }
        for name, make in derived.items():
            if name in self.images:
                self.add(name, start, make())

    def save(self, path: Path, title: str, model_title: str) -> None:
        """The panels side by side on one dB scale; model_title names the model's panel."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        focused = [img for name, img in self.images.items() if name not in ERRORS]
        top = max(float(img.max()) for img in focused) or 1.0
        n = len(self.images)
        fig, axes = plt.subplots(1, n, figsize=(4.6 * n + 1.2, 5.2), squeeze=False, sharey=True)
        for k, (ax, (name, img)) in enumerate(zip(axes[0], self.images.items())):
            db = 20 * np.log10(np.maximum(img, 1e-12) / top)
            shown = ax.imshow(db, vmin=FLOOR_DB, vmax=0, cmap="gray", aspect="auto", interpolation="nearest")
            ax.set_title(TITLES.get(name, model_title), fontsize=10)
            ax.set_xlabel("range bin" + (f" (blocks of {self.fr}, maximum)" if self.fr > 1 else ""))
            if k == 0:
                ax.set_ylabel("azimuth sample" + (f" (blocks of {self.fa}, maximum)" if self.fa > 1 else ""))
        fig.colorbar(shown, ax=axes[0].tolist(), label="|y| in dB (0 = brightest focused pixel)", fraction=0.03)
        fig.suptitle(title, fontsize=11)
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
        plt.close(fig)
