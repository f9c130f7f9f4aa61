"""The production matched filter (kdssm/data/production_filter.py) beside the FFT roofline and the exact
scoring filter, side by side in one process: columns per second on mini and s1 columns, 2 threads, the
best of 7 passes each.

    python benchmarks/production_filter.py [--columns 256]

Roofline: one forward FFT, one multiplication by a spectrum per column (a (B, M) array, as the filter's
stack) and one inverse FFT at the filter's own transform length (what any single-pass focusing must do).
Production filter: spectra cached (warm) and built in the pass (cold, first call on new columns). Exact:
kdssm.data.matched_filter.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import roofline_pass, write_result

from kdssm.data import matched_filter, simulate
from kdssm.data.production_filter import ProductionFilter
from kdssm.geometry import PRESETS


def best_of(fn, repeats: int = 7) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--columns", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(2)
    out = {}
    for preset in ("mini", "s1"):
        pre = PRESETS[preset]
        x, _ = simulate(preset, args.columns, seed=1)
        fast = ProductionFilter(pre.geometry(), pre.length)
        lines = x[..., 0].contiguous()
        fixed = fast.spectra(x[:1, :, 1].real.mean(dim=1).double().numpy()).repeat(len(x), 1)  # (B, M), as stored

        def roofline():
            roofline_pass(lines, fixed)

        def cold():
            ProductionFilter(pre.geometry(), pre.length)(x)

        seconds = {
            "roofline": best_of(roofline),
            "production_warm": best_of(lambda: fast(x)),
            "production_cold": best_of(cold),
            "exact": best_of(lambda: matched_filter(x, preset)),
        }
        per_second = {k: args.columns / v for k, v in seconds.items()}
        out[preset] = {
            "transform_length": fast.nfft,
            "columns_per_second": {k: round(v) for k, v in per_second.items()},
            "of_roofline": {k: round(v / per_second["roofline"], 3) for k, v in per_second.items()},
        }
        print(preset, out[preset], flush=True)
    print(write_result("production_filter", {"columns": args.columns, "threads": 2, "rows": out}))


if __name__ == "__main__":
    main()
