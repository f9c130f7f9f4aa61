"""What a shrink of the matched filter's output can win inside the valid region, before any model learns one:
a per-sample Wiener gain g = max(0, 1 - N / S), S the local mean of |filter output|^2, N the focused noise
power (the input's: the reference has unit energy), with N known (genie), estimated robustly by the
library's estimator (kdssm.models.valid_shrink.noise_power: a high-pass past the processed band and a low
quantile over time of its power, so the bursts where bright targets' chirps start or end are left out), or
naively (the same probe's mean power).

    python benchmarks/valid_shrink.py [--columns 256]

The bound model.valid_shrink is judged against: if a known N gains little, no learned shrink of this form
will; the estimated N shows what the estimate costs. With the point targets subtracted first and only the
rest shrunk, t + g (y - t) (model.shrink_targets), the same gain with N known: t the library's CLEAN
(kdssm.models.target_clean.targets), or the genie's t (the focused targets the simulator put there).
Held-out columns of this project's simulator (seed 11).
The card's point targets are not band-limited (their apertures are cut sharply, so the windowed chirp's
spectrum has tails past the processed band 20-40 dB above the noise): the probe's mean reads them.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import write_result

from kdssm.data.limit import split_limit
from kdssm.data.physics import focus
from kdssm.data.simulate import scene_draws, simulate_numpy, to_tensors
from kdssm.geometry import PRESETS
from kdssm.metrics import valid_mask
from kdssm.models import target_clean
from kdssm.models.valid_shrink import ValidShrink

SEED = 11
KINDS = ("card", "low_snr", "dense", "very_dense", "clutter_only", "faint_targets")


def probe_noise(line: np.ndarray, p: np.ndarray, robust: bool) -> np.ndarray:
    """Noise power per column (n,) of raw lines (n, L): the library's estimate, or its probe's mean power."""
    x = torch.view_as_real(torch.from_numpy(line.astype(np.complex64)))
    estimates = ValidShrink(PRESETS["mini"].geometry()).column_noise(x, torch.from_numpy(p).float())
    return estimates[0 if robust else 1].double().numpy()


def shrink(y: np.ndarray, noise: np.ndarray, window: int) -> np.ndarray:
    """y (n, L) times max(0, 1 - N / S), S the mean of |y|^2 over `window` samples around each one."""
    kernel = np.ones(window) / window
    local = np.stack([np.convolve(np.abs(row) ** 2, kernel, mode="same") for row in y])  # (n, L)
    return y * np.maximum(0.0, 1.0 - noise[:, None] / np.maximum(local, 1e-30))


def clean_targets(filtered: np.ndarray, valid: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The point targets (n, L) complex128 that the library's CLEAN finds in the filter's output (n, L)."""
    shrink = ValidShrink(PRESETS["mini"].geometry(), targets=True)
    ka, na = shrink.column_geometry(torch.from_numpy(p))
    y = torch.view_as_real(torch.from_numpy(filtered.astype(np.complex64)))
    found = target_clean.targets(y, torch.from_numpy(valid), ka, na, PRESETS["mini"].prf_hz)
    return torch.view_as_complex(found).to(torch.complex128).numpy()


def valid_db(y_hat: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(np.abs(y_hat - truth)[valid] ** 2) / np.sum(np.abs(truth)[valid] ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--columns", type=int, default=256)
    parser.add_argument("--windows", type=int, nargs="+", default=[3, 7, 15, 31])
    args = parser.parse_args()
    pre = PRESETS["mini"]
    rows = {}
    for kind in KINDS:
        sim = simulate_numpy(pre, args.columns, SEED, parts=True, **scene_draws(args.columns, SEED, kind))
        ka, na, truth = sim["ka"], sim["na"], sim["truth"]
        filtered = focus(sim["raw"], ka, na, pre.prf_hz)  # (n, L) the matched filter, edges cut
        valid = valid_mask(to_tensors(sim["raw"], sim["p"], truth)[0], pre).numpy()  # (n, L) as scores mask
        noises = {
            "known": 10.0 ** (-sim["snr_db"] / 10.0),
            "robust": probe_noise(sim["raw"], sim["p"], robust=True),
            "naive": probe_noise(sim["raw"], sim["p"], robust=False),
        }
        base = valid_db(filtered, truth, valid)
        limit = split_limit("mini", args.columns, SEED, kind)["nmse_valid_db"]
        row = {"matched_filter_valid_db": base, "limit_valid_db": limit}
        for name, noise in noises.items():
            ratio = noise / noises["known"]
            row[f"noise_{name}_over_known_median"] = float(np.median(ratio))
            for w in args.windows:
                row[f"gain_db_{name}_w{w}"] = base - valid_db(shrink(filtered, noise, w), truth, valid)
        origin = sim["origin"]
        clutter = focus(sim["clutter_raw"], ka, na, pre.prf_hz)[:, origin : origin + pre.length]
        found = {"clean": clean_targets(filtered, valid, sim["p"]), "genie": truth - clutter}
        for name, t in found.items():
            for w in args.windows:
                row[f"gain_db_known_{name}_targets_w{w}"] = base - valid_db(
                    t + shrink(filtered - t, noises["known"], w), truth, valid
                )
        rows[kind] = row
        best = {k: round(v, 2) for k, v in row.items() if k.startswith("gain_db")}
        print(f"{kind:>13}: filter {base:.2f}, limit {row['limit_valid_db']:.2f}; gains {best}", flush=True)
    print(write_result("valid_shrink", {"seed": SEED, "columns": args.columns, "rows": rows}))


if __name__ == "__main__":
    main()
