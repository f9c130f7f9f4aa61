"""A sarSSM folded into one spectrum per range where it is linear: the explicit fast twin of infer() on
long lines (a scene's azimuth lines), exact against it (tests/inference/test_folded.py).

An edge-gated model (gate_region edges) is linear wherever its gates are closed: its k leading ungated
layers (identity activation, no norm) are convolutions and mixings, and every gated layer adds nothing
to a sample whose whole aperture lies inside the line. There the model is one filter per slant range,

    y = IFFT( F_p(w) . FFT(x, N) )[:L],   F_p(w) = w_out^T prod_{j<k} (I + M_j diag(K_j,p + D_j)) w_in,

with w_in, w_out the input and output projections, M_j a layer's mixing, K_j,p its kernel spectrum at
the line's range p and D_j its skip; N >= L + the prefix's reach (nothing wraps onto the line). A line
reads its kernels between two grid points g, g + 1 with weight w (range_grid.py), K_j,p = K_j,g + w
(K_j,g+1 - K_j,g) for every layer, so F_p is a polynomial of degree k in w per grid interval:
F_p = sum_m w^m C_g,m, the coefficient spectra built once per interval on first need and cached (a
scene's range bins then cost one table row each, like the production matched filter's reference
spectra). A scale-equivariant model divides by the line's rms and multiplies back: linear, so it cancels.

Only E samples at each end differ from the folded filter: those within half an aperture of an end
(where the gates act) and those the prefix's truncated layers reach (within the reach of its layers
after the first). Those run through infer() on a window of W = E + R samples at each end, both windows side
by side in one line of 2 W, with the whole line's position features and scale. R = the prefix's reach plus
the widest gated layer's: a gated layer changes the stream only on the E samples where its gate is open
(wherever the window's cut lies, the positions are the line's), so it reads the prefix's output at most one
own reach beyond them, and that output is exact up to the prefix's reach short of the cut. Cost per line:
one transform pair of N points and the model on 2 W samples instead of L.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models.complex import line_scale
from ..models.gate import edge_half, position_features
from ..models.s4d_kernel import circular_kernel, fast_length
from ..models.spectrum_cache import SpectrumCache
from .channels_first import _infer


class FoldError(ValueError):
    """A model or a line the fold cannot take; the message says why and what runs instead."""


def fold_blocker(model: nn.Module) -> str:
    """Why `model` cannot be folded ('' when it can): its linear interior must be a windowed convolution."""
    cfg = model.config
    gated = cfg.gated_layer_indices
    if cfg.valid_shrink:
        return (
            "its valid-region shrink (model.valid_shrink) scales every sample by its local power, "
            "so no part of a line is linear"
        )
    if gated and cfg.gate_region != "edges":
        return "its gates act on every sample (model.gate_region all), so no part of a line is linear"
    prefix = gated[0] if gated else cfg.num_layers
    if gated != list(range(prefix, cfg.num_layers)):
        return f"its ungated layers do not all come first (gated layers {gated})"
    if cfg.norm != "none":
        return "its layers normalise the stream (model.norm layer), which is not linear"
    if cfg.activation != "identity":
        return f"its activation ({cfg.activation}) is not linear"
    if any(layer.conv.max_half is None for layer in model.layers):
        return "its kernels have no aperture window (no geometry or no range conditioning): they reach the whole line"
    return ""


class FoldedSarSSM(nn.Module):
    """forward(x (B, L, 2) complex64) -> (B, L, 1) complex64, infer()'s values; see the module docstring.
    Shares the model's parameters; the folded table is rebuilt when one of them changes."""

    def __init__(self, model: nn.Module, cache_mb: float = 256.0):
        super().__init__()
        blocker = fold_blocker(model)
        if blocker:
            raise FoldError(f"cannot fold this model: {blocker}; it runs unfolded (tiles) instead")
        self.model = model.eval()
        self.config, self.geometry = model.config, model.geometry
        cfg = model.config
        self.prefix = cfg.gated_layer_indices[0] if cfg.gated_layer_indices else cfg.num_layers  # k
        halves = [layer.conv.max_half for layer in model.layers]
        self.prefix_reach = sum(halves[: self.prefix])  # the folded filter's lags on each side
        self.truncated = self.prefix_reach - halves[0]  # samples at each end where the prefix is not one filter
        # R: a gated layer changes the stream only where its gate is open (the E end samples, wherever the
        # window's inner end lies), so it reads the prefix's output up to its own reach beyond them
        self.reach = self.prefix_reach + max(halves[self.prefix :], default=0)
        self.cache_mb = cache_mb
        self._stamp, self._cache, self._by_p = None, {}, {}  # parameters seen; interval tables; spectra by p

    def edge_samples(self, p: torch.Tensor, length: int) -> int:
        """E: samples at each end of lines of `length` at ranges p (B,) that run through the model."""
        gates = int(edge_half(p, length, self.geometry).max().ceil()) if len(self.model.gates) else 0
        return max(gates, self.truncated)

    def window(self, p: torch.Tensor, length: int) -> int:
        """W = E + R: the samples at each end the model runs on."""
        return self.edge_samples(p, length) + self.reach

    def pays(self, length: int) -> bool:
        """Whether lines of `length` leave an interior to fold: the two windows (at the swath's widest
        aperture) cover less than the line."""
        p = torch.tensor([0.0, 1.0])
        return 2 * self.window(p, length) < length

    def _table(self, length: int, device: torch.device, needed: torch.Tensor) -> torch.Tensor:
        """Coefficient spectra (k + 1, G - 1, N) complex64 of the grid intervals, rows `needed` built if not yet."""
        n = fast_length(length + self.prefix_reach)
        hit = self._cache.get((n, device))
        if hit is None:
            intervals = max(1, len(self.model.layers[0].conv.grid) - 1)
            table = torch.zeros(self.prefix + 1, intervals, n, dtype=torch.complex64, device=device)
            hit = self._cache[(n, device)] = {"table": table, "built": torch.zeros(intervals, dtype=torch.bool)}
        missing = needed.cpu().unique()
        missing = missing[~hit["built"][missing]]
        if len(missing):
            hit["table"][:, missing.to(device)] = self._coefficients(missing.to(device), length, n).transpose(0, 1)
            hit["built"][missing] = True
        return hit["table"]

    @torch.no_grad()
    def _coefficients(self, interval: torch.Tensor, length: int, n: int) -> torch.Tensor:
        """C_g,m (I, k + 1, N) complex64 of grid intervals g (I,): the product of the module docstring,
        multiplied out from the output side in powers of w. A row r_m (degree m) passes a layer as
        r_m -> r_m + (r_m M) A + (r_{m-1} M) B, A = K_g + D and B = K_g+1 - K_g per frequency; the first
        row, w_out, is the same at every frequency, so a one-layer prefix costs H N per interval."""
        model = self.model
        w_out = torch.view_as_complex(model.output_proj.weight)[0]  # (H,) complex64
        r = torch.zeros(1, self.prefix + 1, w_out.shape[0], 1, dtype=torch.complex64, device=interval.device)
        r[0, 0, :, 0] = w_out  # (1, k + 1, H, 1): broadcast over intervals and frequencies until a layer
        for layer in reversed(model.layers[: self.prefix]):
            conv = layer.conv
            grid_points = torch.stack([interval, (interval + 1).clamp(max=len(conv.grid) - 1)])  # (2, I)
            taps = conv.kernel_taps(length, grid_points.flatten())  # (2 I, D, H, taps)
            spectra = torch.fft.fft(circular_kernel(taps[:, 0], taps[:, 1] if conv.bidirectional else None, n))
            low, high = spectra.unflatten(0, (2, len(interval)))  # (I, H, N) each
            a = (low + torch.view_as_complex(conv.d)[None, :, None])[:, None]  # (I, 1, H, N)
            b = (high - low)[:, None]  # (I, 1, H, N)
            r_mix = torch.einsum("imhn,ho->imon", r, torch.view_as_complex(layer.mix.weight))  # (., k + 1, H, .)
            step = r_mix * a
            step[:, 1:] += r_mix[:, :-1] * b
            r = r + step  # (I, k + 1, H, N)
        w_in = torch.view_as_complex(model.input_proj.weight)[:, 0]  # (H,) complex64
        return torch.einsum("imhn,h->imn", r, w_in).expand(len(interval), -1, n)  # (I, k + 1, N)

    def _build(self, p: np.ndarray, length: int, device: torch.device) -> torch.Tensor:
        """F_p (n, N) complex64 of distinct p (n,): each one's interval coefficients at its weight (Horner)."""
        grid = self.model.layers[0].conv.grid
        pt = torch.from_numpy(p).float().to(device)  # the float32 p infer() reads
        idx, w = grid.locate(pt)  # (n, 2) int64, (n, 2) float32
        interval = idx[:, 0].clamp(max=max(0, len(grid) - 2))  # (n,)
        table = self._table(length, device, interval)  # (k + 1, G - 1, N)
        weight = w[:, 1:].to(table.dtype)  # (n, 1) complex64
        out = table[-1].index_select(0, interval)  # (n, N)
        for m in range(self.prefix - 1, -1, -1):
            out = torch.addcmul(table[m].index_select(0, interval), out, weight)
        return out

    def spectra(self, p: torch.Tensor, length: int) -> torch.Tensor:
        """F_p of each line, (B, N) complex64, kept by p (models/spectrum_cache.py) until a parameter changes."""
        stamp = tuple((q._version, q.data_ptr()) for q in self.model.parameters())
        if stamp != self._stamp:
            self._stamp, self._cache, self._by_p = stamp, {}, {}
        key = (length, p.device)
        if key not in self._by_p:
            self._by_p[key] = SpectrumCache(lambda q: self._build(q, length, p.device), self.cache_mb)
        return self._by_p[key].get(p.double().cpu().numpy())

    @torch.no_grad()
    def focus(self, line: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """line (B, L) complex64 at ranges p (B,) float32 -> focused (B, L) complex64."""
        length = line.shape[1]
        edge = self.edge_samples(p, length)  # E
        window = edge + self.reach  # W
        if 2 * window >= length:  # no interior to fold: the whole line through the model
            x = torch.stack([line, p[:, None].expand_as(line).to(line.dtype)], dim=-1)  # (B, L, 2)
            return _infer(self.model, x, False)[..., 0]
        spectrum = self.spectra(p, length)  # (B, N)
        y = torch.fft.ifft(torch.fft.fft(F.pad(line, (0, spectrum.shape[-1] - length))) * spectrum)[:, :length]
        if edge:
            ends = self._ends(line, p, window)  # (B, 2 W)
            y[:, :edge] = ends[:, :edge]
            y[:, length - edge :] = ends[:, 2 * window - edge :]
        return y

    def _ends(self, line: torch.Tensor, p: torch.Tensor, window: int) -> torch.Tensor:
        """The model on each line's first and last `window` samples side by side, (B, 2 W) complex64, with
        the whole line's position features and scale. Where the two meet the stream is cut as at a window's
        end: no kept sample reads across (each lies more than R from it)."""
        length = line.shape[1]
        samples = torch.cat([torch.arange(window), torch.arange(length - window, length)]).to(line.device)  # (2 W,)
        ends = line[:, samples]  # (B, 2 W) complex64
        x = torch.stack([ends, p[:, None].expand_as(ends).to(ends.dtype)], dim=-1)  # (B, 2 W, 2)
        position = None
        if len(self.model.gates):
            position = position_features(p, length, self.geometry, samples).transpose(1, 2).contiguous()  # (B, 3, 2 W)
        scale = line_scale(line) if self.config.scale_equivariant else None  # (B, 1)
        return _infer(self.model, x, False, position, scale)[..., 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Data-card columns or lines x (B, L, 2) complex64 -> (B, L, 1) complex64, as infer()."""
        p = x[..., 1].real.mean(dim=1)  # (B,) float32
        return self.focus(x[..., 0].to(torch.complex64), p)[..., None]


FOLD_CHOICES = ("auto", "yes", "no")


def choose_fold(model: nn.Module, geometry, length: int, fold: str, precision: str = "fp32") -> FoldedSarSSM | None:
    """The folded model for lines of `length` samples, or None for the unfolded (tiled) path: `fold` no
    never folds, auto folds where the model folds, runs at fp32 and leaves an interior on such lines, yes
    demands it (FoldError saying why not and what runs instead)."""
    if fold not in FOLD_CHOICES:
        raise FoldError(f"unknown fold choice {fold!r} (known: {', '.join(FOLD_CHOICES)})")
    if fold == "no":
        return None
    blocker = fold_blocker(model)
    if not blocker and precision != "fp32":
        blocker = f"the folded path runs at fp32, not {precision}"
    if not blocker and length < geometry.aperture_range()[1]:
        blocker = f"lines of {length} samples are shorter than one aperture ({geometry.aperture_range()[1]} samples)"
    if blocker:
        if fold == "yes":
            raise FoldError(f"cannot fold: {blocker}; without --fold yes it runs unfolded (tiles)")
        return None
    folded = FoldedSarSSM(model)
    return folded if fold == "yes" or folded.pays(length) else None


def deployed(model: nn.Module, length: int) -> nn.Module:
    """What `kdssm focus` runs at fp32 for lines (or columns) of `length` samples (fold auto): the folded model
    where it folds and pays, else the inference model. Latencies are measured through it."""
    from .channels_first import InferenceModel

    folded = choose_fold(model, model.geometry, length, "auto") if model.geometry is not None else None
    return folded if folded is not None else InferenceModel(model)
