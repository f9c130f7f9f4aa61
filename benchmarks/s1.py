"""The seed's job at Sentinel-1 size, measured side by side in one run (issue 26, item 6).

    python benchmarks/s1.py --demo runs/demo-s1 [--azimuth 4000] [--range_bins 512]
                            [--seed_code ../shared/seeds/reference/SSM.py]

1. Building and loading (the seed-size teacher of configs/teacher.yaml, 64/540/6, s1 geometry): a build with
   the matched-filter least squares (cold, then cached), a build that skips it, `kdssm.load_model` of its
   checkpoint (median of 5), and the first no-grad forward of 8 columns (the grid kernels they read) against
   building the whole grid's spectra (every point of every layer).
2. Accuracy and speed on test columns: the s1 demo's teacher and every student of its front against the
   matched filter on the s1 test split (whole, valid, accuracy, columns per second at batch 32).
3. An s1 scene (--azimuth x --range_bins, the s1 geometry, its noise-free truth) through `kdssm focus`'s
   machinery (fp32, folded where a model folds and on tiles; focus.table): range bins per second beside the
   production matched filter and the FFT roofline, and the scene's whole and valid-region nmse.
4. The seed-size teacher as a user gets it (loaded from its checkpoint) against the seed's own sarSSM at the
   same dims, eval forward at batch 32, in alternation (median of 5), beside the same model built in process
   (what benchmarks/focus.py measures), with gradients on and off: where 12x became 8x.
5. Training step time (batch 32, s1, random positions over the swath): the demo teacher, a front student,
   the seed-size teacher, each with its recipe's frozen focusing path.

Writes benchmarks/results/s1.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import front_checkpoints, write_result
from focus import alternating, scene_arrays, table

from kdssm.checkpoint import load_model, save_model
from kdssm.config import RunConfig
from kdssm.data import simulate
from kdssm.data.datasets import with_column_geometry
from kdssm.evaluate import evaluate_matched_filter, evaluate_model
from kdssm.geometry import PRESETS
from kdssm.inference import infer
from kdssm.models import build_model, count_params, freeze_focusing_path, matched_init

ROOT = Path(__file__).resolve().parents[1]
KEEP = ("params", "nmse_db", "nmse_valid_db", "accuracy", "latency_ms_per_column")


def seed_size_config() -> RunConfig:
    return with_column_geometry(RunConfig.from_file(ROOT / "configs" / "teacher.yaml"), quiet=True)


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def building_and_loading(folder: Path) -> dict:
    cfg = seed_size_config()
    matched_init.reference_fit.cache_clear()
    torch.manual_seed(0)
    cold = seconds(lambda: build_model(cfg.model))
    cached = seconds(lambda: build_model(cfg.model))
    bare = seconds(lambda: build_model(cfg.model, initialise=False))
    model = build_model(cfg.model).eval()
    save_model(model, folder / "model.ckpt", "teacher")
    loads = [seconds(lambda: load_model(folder)) for _ in range(5)]
    x, _ = simulate("s1", 8, seed=5)
    with torch.no_grad():
        first = seconds(lambda: model(x))
        whole = seconds(lambda: [layer.conv.kernel_spectrum(1000) for layer in model.layers])
    return {
        "model": "configs/teacher.yaml (64/540/6, s1, 6 points per aperture)",
        "build_with_fit_cold_s": cold,
        "build_with_fit_cached_s": cached,
        "build_without_fit_s": bare,
        "load_model_median_s": statistics.median(loads),
        "first_forward_8_columns_s": first,
        "whole_grid_spectra_s": whole,
    }


def test_columns(demo: Path) -> dict:
    cfg = RunConfig.from_file(demo / "teacher" / "config.yaml")
    from kdssm.data.datasets import load_split

    test = load_split(cfg.data, "test")
    rows = {"matched filter": evaluate_matched_filter(test.x, test.y, "s1")}
    for name, ckpt, _ in front_checkpoints(demo / "sweep", demo / "teacher"):
        rows[name] = evaluate_model(load_model(ckpt), test.x, test.y, "s1")
    for name, row in rows.items():
        print(f"{name:>18}: {row['params']:>7,} params, nmse {row['nmse_db']:.2f} dB, valid "
              f"{row['nmse_valid_db']:.2f} dB, accuracy {row['accuracy']:.4f}", flush=True)  # fmt: skip
    return {"columns": len(test.x), "rows": {name: {k: row[k] for k in KEEP} for name, row in rows.items()}}


def scene(demo: Path, azimuth: int, range_bins: int) -> dict:
    """The s1 demo's teacher and front on an s1 scene, beside the production filter and the FFT roofline
    (focus.table: folded where a model folds, and on tiles)."""
    geometry = PRESETS["s1"].geometry()
    raw, truth, p, valid = scene_arrays(geometry, azimuth, range_bins)
    models = [
        (name, load_model(ckpt), entry) for name, ckpt, entry in front_checkpoints(demo / "sweep", demo / "teacher")
    ]
    return {
        "azimuth": azimuth,
        "range_bins": range_bins,
        **table("s1", models, geometry, raw, p, truth, valid, 3, ("fp32",)),
    }


def against_the_seed(seed_code: Path, folder: Path) -> dict:
    spec = importlib.util.spec_from_file_location("seed_ssm", seed_code)
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    x, _ = simulate("s1", 32, seed=1)  # (32, 1000, 2) complex64
    cfg = seed_size_config()
    torch.manual_seed(0)
    built = build_model(cfg.model).eval()
    save_model(built, folder / "model.ckpt", "teacher")
    loaded = load_model(folder)
    theirs = seed.sarSSM(num_layers=6, input_dim=2, output_dim=1, model_dim=64, state_dim=540, use_selectivity=True)
    theirs.eval()

    def seed_no_grad():
        with torch.no_grad():
            theirs(x)

    timed = alternating(
        {
            "built_no_grad": lambda: infer(built, x),  # ours: the inference implementation, by name
            "loaded_no_grad": lambda: infer(loaded, x),
            "loaded_grad_on": lambda: loaded(x),  # the reference, as training runs it
            "seed_no_grad": seed_no_grad,
        },
        rounds=3,
    )
    out = {f"{k}_s": v for k, v in timed.items()}
    for key in ("built_no_grad", "loaded_no_grad", "loaded_grad_on"):
        out[f"speedup_{key}"] = timed["seed_no_grad"] / timed[key]
    print("seed-size teacher eval forward b32: " + ", ".join(f"{k} {v:.3f} s" for k, v in timed.items()), flush=True)
    return out


def training_steps(demo: Path) -> dict:
    cfg = seed_size_config()
    models = {"seed-size teacher (64/540/6)": cfg.model}
    teacher_cfg = RunConfig.from_file(demo / "teacher" / "config.yaml")
    models["demo teacher"] = teacher_cfg.model
    front = json.loads((demo / "sweep" / "pareto.json").read_text())["front"]
    if front:
        smallest = min(front, key=lambda f: f["metrics"]["params"])
        models[f"front student {smallest['trial_id']}"] = load_model(demo / "sweep" / smallest["checkpoint"]).config
    x, y = simulate("s1", 32, seed=7)
    out = {}
    for name, model_cfg in models.items():
        torch.manual_seed(0)
        model = build_model(model_cfg)
        freeze_focusing_path(model)
        optimiser = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-4)

        def step():
            optimiser.zero_grad()
            (model(x) - y).abs().pow(2).mean().backward()
            optimiser.step()

        step()
        times = [seconds(step) for _ in range(3)]
        out[name] = {"params": count_params(model), "step_s": min(times), "columns_per_second": 32 / min(times)}
        print(f"training step {name}: {min(times):.3f} s ({32 / min(times):.0f} columns/s)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", default=str(ROOT / "runs" / "demo-s1"), help="a `kdssm demo --preset s1` folder")
    parser.add_argument("--azimuth", type=int, default=4000)
    parser.add_argument("--range_bins", type=int, default=512)
    parser.add_argument("--seed_code", default=str(ROOT.parent / "shared" / "seeds" / "reference" / "SSM.py"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    demo = Path(args.demo)
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        result["building_and_loading"] = building_and_loading(Path(tmp))
        print(json.dumps(result["building_and_loading"]), flush=True)
        result["test_columns"] = test_columns(demo)
        result["scene"] = scene(demo, args.azimuth, args.range_bins)
        result["seed_code"] = against_the_seed(Path(args.seed_code), Path(tmp))
        result["training_steps"] = training_steps(demo)
    print(f"wrote {write_result('s1', result)}")


if __name__ == "__main__":
    main()
