"""What a shrink of the matched filter's output can win inside the valid region, before any model learns one:
a per-sample Wiener gain g = max(0, 1 - N / S), S the local mean of |filter output|^2, N the focused noise
power (the input's: the reference has unit energy), with N known (genie), estimated robustly from each
column's out-of-band Doppler bins (Hann-tapered periodogram, median / ln 2), or naively (their mean).

    python benchmarks/valid_shrink.py [--columns 256]

The bound issue 32's level-aware shrink is judged against: if a known N gains little, no learned shrink
of this form will; the estimated N shows what the estimate costs. Held-out columns of this project's
simulator (seed 11). The card's point targets are not band-limited (their apertures are cut sharply, so the
windowed chirp's spectrum has tails past the processed band 20-40 dB above the noise): any out-of-band
estimate reads them, whatever the taper.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import write_result

from kdssm.data.limit import split_limit
from kdssm.data.physics import focus
from kdssm.data.simulate import scene_draws, simulate_numpy, to_tensors
from kdssm.geometry import PRESETS
from kdssm.metrics import valid_mask

SEED = 11
KINDS = ("card", "low_snr", "dense", "very_dense", "clutter_only", "faint_targets")


def out_of_band_noise(line: np.ndarray, ka: np.ndarray, na: np.ndarray, prf: float, robust: bool) -> np.ndarray:
    """Noise power per column (n,) from the Doppler bins outside the processed band |f| > Ka Na / (2 PRF)."""
    n, length = line.shape
    taper = np.hanning(length)
    spectrum = np.abs(np.fft.fft(line * taper, axis=1)) ** 2 / np.sum(taper**2)  # (n, L) white noise: its power
    freq = np.abs(np.fft.fftfreq(length, d=1.0 / prf))  # (L,) Hz
    outside = freq[None, :] > (ka * na / prf / 2.0)[:, None] * 1.05  # a 5 % margin past the band edge
    out = np.empty(n)
    for c in range(n):
        bins = spectrum[c, outside[c]]
        out[c] = np.median(bins) / np.log(2.0) if robust else bins.mean()
    return out


def shrink(y: np.ndarray, noise: np.ndarray, window: int) -> np.ndarray:
    """y (n, L) times max(0, 1 - N / S), S the mean of |y|^2 over `window` samples around each one."""
    kernel = np.ones(window) / window
    local = np.stack([np.convolve(np.abs(row) ** 2, kernel, mode="same") for row in y])  # (n, L)
    return y * np.maximum(0.0, 1.0 - noise[:, None] / np.maximum(local, 1e-30))


def valid_db(y_hat: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(np.abs(y_hat - truth)[valid] ** 2) / np.sum(np.abs(truth)[valid] ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--columns", type=int, default=256)
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 3, 7])
    args = parser.parse_args()
    pre = PRESETS["mini"]
    rows = {}
    for kind in KINDS:
        sim = simulate_numpy(pre, args.columns, SEED, **scene_draws(args.columns, SEED, kind))
        ka, na, truth = sim["ka"], sim["na"], sim["truth"]
        filtered = focus(sim["raw"], ka, na, pre.prf_hz)  # (n, L) the matched filter, edges cut
        valid = valid_mask(to_tensors(sim["raw"], sim["p"], truth)[0], pre).numpy()  # (n, L) as scores mask
        noises = {
            "known": 10.0 ** (-sim["snr_db"] / 10.0),
            "robust": out_of_band_noise(sim["raw"], ka, na, pre.prf_hz, robust=True),
            "naive": out_of_band_noise(sim["raw"], ka, na, pre.prf_hz, robust=False),
        }
        base = valid_db(filtered, truth, valid)
        limit = split_limit("mini", args.columns, SEED, kind)["nmse_valid_db"]
        row = {"matched_filter_valid_db": base, "limit_valid_db": limit}
        for name, noise in noises.items():
            ratio = noise / noises["known"]
            row[f"noise_{name}_over_known_median"] = float(np.median(ratio))
            for w in args.windows:
                row[f"gain_db_{name}_w{w}"] = base - valid_db(shrink(filtered, noise, w), truth, valid)
        rows[kind] = row
        best = {k: round(v, 2) for k, v in row.items() if k.startswith("gain_db")}
        print(f"{kind:>13}: filter {base:.2f}, limit {row['limit_valid_db']:.2f}; gains {best}", flush=True)
    print(write_result("valid_shrink", {"seed": SEED, "columns": args.columns, "rows": rows}))


if __name__ == "__main__":
    main()
