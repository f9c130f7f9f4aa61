"""Spectra kept by slant range: what a filter per range (the production matched filter, a folded model)
reads instead of rebuilding. A scene's range bins ask for the same positional encodings pass after pass,
a column set once per distinct p.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

Builder = Callable[[np.ndarray], torch.Tensor]  # distinct p (n,) float64 -> their spectra (n, N) complex64


class SpectrumCache:
    """get(p) -> the spectra (B, N) of positional encodings p (B,), each built once by `build` and kept,
    oldest out beyond `max_mb`; a batch of the same p as the last one gets the same stacked tensor."""

    def __init__(self, build: Builder, max_mb: float = 256.0):
        self.build, self.max_bytes = build, int(max_mb * 2**20)
        self._spectra: OrderedDict[float, torch.Tensor] = OrderedDict()
        self._bytes = 0
        self._batch: tuple[bytes, torch.Tensor] | None = None  # the last batch's p and stack

    def __len__(self) -> int:
        return len(self._spectra)

    def clear(self) -> None:
        self._spectra.clear()
        self._bytes, self._batch = 0, None

    def get(self, p: np.ndarray) -> torch.Tensor:
        p = np.ascontiguousarray(p, dtype=np.float64)
        if self._batch is not None and self._batch[0] == p.tobytes():
            return self._batch[1]
        keys = [float(v) for v in p]
        missing = sorted({k for k in keys if k not in self._spectra})
        fresh = dict(zip(missing, self.build(np.array(missing)))) if missing else {}
        stacked = torch.stack([fresh[k] if k in fresh else self._spectra[k] for k in keys])  # (B, N)
        for key, spectrum in fresh.items():
            self._spectra[key] = spectrum
            self._bytes += spectrum.numel() * spectrum.element_size()
        while self._bytes > self.max_bytes and self._spectra:
            _, old = self._spectra.popitem(last=False)
            self._bytes -= old.numel() * old.element_size()
        self._batch = (p.tobytes(), stacked)
        return stacked
