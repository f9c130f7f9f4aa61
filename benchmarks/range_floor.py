"""What range conditioning can represent at all, and what it costs: old scheme against new, both presets.

    python benchmarks/range_floor.py

The floor of a scheme: the data card's exact reference functions, taken at the scheme's grid points
and interpolated to every slant range the way the model reads its kernels, against the exact
reference of that range (two-sided tap energy over 2001 ranges across the swath). Nothing is
trained, so no training run can do better than this. Schemes:
- `uniform8` (today's seed configs): 8 equally spaced points in p, no aperture window;
- `aperture_k` (new): points keyed by aperture length, k per bucket, interpolation within a bucket.
The shipped model's own floor adds the mode fit of the matched-filter initialisation: an impulse
through an untrained one-layer model (range_points_per_aperture 3) against the exact reference; at the demo
teacher's width (16 channels) also with 4 and 6 points and 128 or 256 states, and with model.aperture_gain.
Costs: a training step (forward + backward, batch 32) and a cached eval forward of the demo teacher
(16/128/3, gated) on mini, with the uniform 8-point grid and with the aperture grid, side by side.
Writes benchmarks/results/range_floor.json.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from kdssm.geometry import PRESETS
from kdssm.inference import infer
from kdssm.models import SarSSM
from kdssm.models.range_grid import ApertureGrid, UniformGrid

RANGES = 2001


def reference_two_sided(preset, p: float, half_max: int, half: int | None = None) -> np.ndarray:
    """The exact reference conj(g) at p on lags -half_max .. half_max, zero outside its aperture of
    2 half + 1 samples (default: the aperture at p)."""
    r0 = preset.slant_range(p)
    half = int(preset.half_aperture(p)) if half is None else half
    lags = np.arange(-half, half + 1)
    out = np.zeros(2 * half_max + 1, dtype=np.complex128)
    out[half_max - half : half_max + half + 1] = np.exp(
        1j * np.pi * preset.fm_rate(r0) * (lags / preset.prf_hz) ** 2
    ) / np.sqrt(2 * half + 1)
    return out


def scheme_floor_db(preset, grid) -> float:
    """Exact references at the grid points, read per range as the model does, against the exact ones.

    A point of the aperture grid carries its bucket's aperture (a point on a bucket's edge belongs
    to that bucket; recomputing Na there could round into the neighbour); a uniform point its own.
    """
    half_max = (preset.aperture_range()[1] - 1) // 2
    halves = grid.half_aperture if grid.half_aperture is not None else [None] * len(grid)
    at_points = np.stack(
        [reference_two_sided(preset, p, half_max, None if h is None else int(h)) for p, h in zip(grid.p, halves)]
    )  # (G, 2 half_max + 1)
    ps = torch.linspace(0.0, 1.0, RANGES, dtype=torch.float64)
    idx, w = grid.locate(ps)
    err = ref = 0.0
    for j, p in enumerate(ps.tolist()):
        exact = reference_two_sided(preset, p, half_max)
        read = float(w[j, 0]) * at_points[int(idx[j, 0])] + float(w[j, 1]) * at_points[int(idx[j, 1])]
        err += float(np.sum(np.abs(read - exact) ** 2))
        ref += float(np.sum(np.abs(exact) ** 2))
    return 10.0 * np.log10(err / ref)


@torch.no_grad()
def model_floor_db(
    preset, points_per_aperture: int, state_dim: int, model_dim: int = 2, aperture_gain: bool = False
) -> tuple[float, float]:
    """(floor of the untrained matched-filter model through impulses, its kernel fit dB)."""
    model = SarSSM(
        aperture_gain=aperture_gain,
        model_dim=model_dim,
        state_dim=state_dim,
        num_layers=1,
        use_selectivity=False,
        dropout=0.0,
        geometry=preset.geometry().to_dict(),
        range_points_per_aperture=points_per_aperture,
    ).eval()
    length = preset.length
    centre = length // 2
    half_max = (preset.aperture_range()[1] - 1) // 2
    ps = np.linspace(0.0, 1.0, 401)
    x = torch.zeros(len(ps), length, 2, dtype=torch.complex64)
    x[:, centre, 0] = 1.0
    x[:, :, 1] = torch.tensor(ps, dtype=torch.float32)[:, None]
    y = model(x)[..., 0].to(torch.complex128).numpy()  # (P, L): y[i] = h[centre - i]
    err = ref = 0.0
    for j, p in enumerate(ps):
        exact = reference_two_sided(preset, float(np.float32(p)), half_max)
        got = y[j, centre - half_max : centre + half_max + 1][::-1]
        err += float(np.sum(np.abs(got - exact) ** 2))
        ref += float(np.sum(np.abs(exact) ** 2))
    return 10.0 * np.log10(err / ref), float(model.init_fit_db)


def timed(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def step_costs() -> dict:
    """Seconds per training step and per cached eval forward, demo teacher, uniform8 vs aperture grid."""
    from kdssm.data import simulate

    x, y = simulate("mini", 32, seed=9)
    geometry = PRESETS["mini"].geometry().to_dict()
    out = {}
    for name, extra in (("uniform8", {"range_grid": 8}), ("aperture_3", {"geometry": geometry})):
        torch.manual_seed(0)
        model = SarSSM(model_dim=16, state_dim=128, num_layers=3, use_selectivity=True, dropout=0.0, **extra)

        def step():
            model.zero_grad()
            (model(x) - y).abs().pow(2).mean().backward()

        def forward():
            infer(model.eval(), x)  # the inference implementation, as validation runs it
            model.train()

        out[name] = {
            "train_step_s": timed(step),
            "eval_forward_s": timed(forward),
            "grid_points": len(model.layers[0].conv.grid),
        }
    out["train_step_ratio_new_over_old"] = out["aperture_3"]["train_step_s"] / out["uniform8"]["train_step_s"]
    out["eval_forward_ratio_new_over_old"] = out["aperture_3"]["eval_forward_s"] / out["uniform8"]["eval_forward_s"]
    return out


def main() -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    floors = {}
    for name, preset in PRESETS.items():
        row = {"uniform8": scheme_floor_db(preset, UniformGrid(8))}
        for k in (2, 3, 4):
            grid = ApertureGrid(preset.geometry(), k)
            row[f"aperture_{k}"] = scheme_floor_db(preset, grid)
            row[f"aperture_{k}_points"] = len(grid)
        state = 64 if name == "mini" else 512  # enough modes for the chirp of each preset (2 channels)
        row["model_aperture_3"], row["model_fit_db"] = model_floor_db(preset, 3, state)
        floors[name] = row
        print(name, {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    # the demo teacher's width (16 channels) as it starts, the linear floor its valid region sits on: grid
    # points per aperture against state size (the filter's valid-region error on dense mini scenes is about
    # -40.6 dB, on very dense ones -45.0: bounds.json)
    # (model.aperture_gain: each grid point's kernels scaled by sqrt(Ta PRF / Na), so the fit need not follow
    # the steps of 1/sqrt(Na) where Na is rounded)
    teacher = {}
    arms = [(3, 128, False), (4, 128, False), (6, 128, False), (4, 256, False), (6, 256, False)]
    arms += [(3, 128, True), (4, 128, True), (6, 128, True), (8, 128, True)]
    for points, state, gain in arms:
        floor, fit = model_floor_db(PRESETS["mini"], points, state, model_dim=16, aperture_gain=gain)
        name = f"16/{state}, {points} points" + (", aperture gain" if gain else "")
        teacher[name] = {"floor_db": floor, "fit_db": fit}
        print("demo teacher width", name, round(floor, 2), round(fit, 2), flush=True)
    costs = step_costs()
    print("costs", costs, flush=True)
    path = write_result(
        "range_floor", {"floors_db": floors, "demo_teacher_floors": teacher, "costs_mini_demo_teacher": costs}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
