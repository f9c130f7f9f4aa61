"""Focusing throughput against the production matched filter and the FFT roofline, on data-card columns and
on scenes with long lines, folded and unfolded; and the seed-size teacher against the seed's own code. Every
ratio is measured side by side in this one process (2 threads).

    python benchmarks/focus.py [--sweep runs/demo/sweep] [--teacher runs/demo/teacher] [--passes 3]
                               [--seed_code ../shared/seeds/reference/SSM.py] [--parts columns,scene,long,s1,seed]

Every focuser runs as `kdssm focus` runs it (engine.ModelLines, batches of 256 lines): the production
filter (data/production_filter.py, reference spectra cached by range), the FFT roofline at the filter's
transform length (common.roofline_pass: FFT, one spectrum per line, inverse FFT, the lines written out
as every focuser's are), and each model of the
demo (its teacher and the sweep's front) folded where it folds (`--fold auto`: inference/folded.py) and
unfolded (`--fold no`: overlap-save tiles), at fp32; on the 1,000-sample scene also at bf16, fp16 and
int8-dynamic. Timing: all focusers of a table in alternation, pass by pass, the fastest of `--passes`
each (a busy moment of the machine slows one pass, not one focuser).

Parts:
- columns: 2,048 mini columns (256 samples), whole columns as trained;
- scene: the demo's geometry (mini), 1,000 azimuth samples x 4,096 range bins (an s1 scene's size);
- long: mini, 8,192 azimuth samples x 2,048 range bins (an s1-sized scene with long lines);
- s1: the s1 geometry, 8,192 azimuth samples x 128 contiguous range bins mid-swath (S1 IW's 2.33 m), the
  seed-size teacher (configs/teacher.yaml, its matched-filter start: its speed, not its accuracy), folded and
  unfolded, and the bound on what its folded ends can cost;
- seed: our seed-size teacher's eval forward against the seed's sarSSM (batch 32, L 1,000), loaded at run
  time from --seed_code (never copied; needs the `seed` extra), timed in alternation, median of 5.
Reported per focuser: lines per second, the ratio to the production filter and to the roofline, the
scene's nmse and valid-region nmse against the noise-free truth, and for every folded model the relative
difference of its folded and unfolded outputs. "Beats the matched filter" is read from the sweep's test
accuracy (pareto.json). Writes benchmarks/results/focus.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import front_checkpoints, roofline_pass, write_result

from kdssm.checkpoint import load_model
from kdssm.config import RunConfig
from kdssm.data import simulate
from kdssm.data.production_filter import ProductionFilter
from kdssm.data.scene import simulate_scene
from kdssm.deploy.engine import MatchedFilterLines, ModelLines
from kdssm.deploy.precision import PRECISIONS
from kdssm.geometry import PRESETS
from kdssm.inference import infer
from kdssm.models import SarSSM, count_params

ROOT = Path(__file__).resolve().parents[1]
BATCH = 256
PARTS = ("columns", "scene", "long", "s1", "seed")
GOALS = {
    "production_filter_of_roofline_min": 0.5,
    "fastest_beating_student_vs_production_filter_long_min": 0.5,
    "fastest_beating_student_vs_production_filter_columns_min": 0.2,
    "seed_teacher_folded_vs_production_filter_long_min": 0.1,
    "folded_vs_unfolded_relative_max": 1e-5,
    "seed_teacher_speedup_min": 10.0,
}


class Roofline:
    """FFT, one spectrum per line and inverse FFT at the production filter's length: the roofline."""

    def __init__(self, geometry, length: int):
        self.filter = ProductionFilter(geometry, length)

    def focus_lines(self, lines: np.ndarray, p: np.ndarray) -> np.ndarray:
        spectra = self.filter.spectra(np.asarray(p, dtype=np.float64))  # cached: the roofline reads, not builds
        return roofline_pass(torch.from_numpy(lines), spectra)[:, : lines.shape[1]].numpy()  # written out as any

    def focus_columns(self, x: np.ndarray) -> np.ndarray:
        return self.focus_lines(np.ascontiguousarray(x[:, :, 0]), x[:, :, 1].real.mean(axis=1))[..., None]


def timed_side_by_side(focusers: dict, raw: np.ndarray, p: np.ndarray, passes: int, columns: bool = False):
    """Every focuser over the whole set (R, A) in batches of BATCH, in alternation, pass by pass (a warm-up
    batch first): ({name: output of its last pass}, {name: seconds of its fastest pass})."""
    call = {n: (f.focus_columns if columns else f.focus_lines) for n, f in focusers.items()}
    for focus in call.values():
        focus(raw[:BATCH]) if columns else focus(raw[:BATCH], p[:BATCH])
    outputs = dict.fromkeys(focusers)
    fastest = dict.fromkeys(focusers, float("inf"))
    for _ in range(passes):
        for name, focus in call.items():
            out = np.empty_like(raw if not columns else raw[..., :1])
            start = time.perf_counter()
            for i in range(0, raw.shape[0], BATCH):
                y = focus(raw[i : i + BATCH]) if columns else focus(raw[i : i + BATCH], p[i : i + BATCH])
                out[i : i + BATCH] = y
            fastest[name] = min(fastest[name], time.perf_counter() - start)
            outputs[name] = out
    return outputs, fastest


def scores(y: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> dict:
    err, ref = np.abs(y - truth) ** 2, np.abs(truth) ** 2
    return {
        "nmse_db": float(10 * np.log10(err.sum() / ref.sum())),
        "nmse_valid_db": float(10 * np.log10(err[valid].sum() / ref[valid].sum())),
    }


def scene_arrays(
    geometry, azimuth: int, range_bins: int, p: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A simulated scene as lines: raw and truth (R, A) complex64, p (R,), the valid region (R, A) bool;
    its range bins across the swath, or at p."""
    p = np.linspace(0.0, 1.0, range_bins) if p is None else p
    scene = simulate_scene(geometry, azimuth, range_bins, seed=0, p=p)
    raw, truth = scene["raw"].T.copy(), scene["truth"].T.copy()  # (R, A)
    edge = geometry.half_aperture(p)
    index = np.arange(azimuth)[None, :]
    valid = (index >= edge[:, None]) & (index < azimuth - edge[:, None])
    return raw, truth, p, valid


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def model_focusers(model, geometry, length: int, precisions=("fp32",)) -> dict:
    """{label: ModelLines} of one model: folded (where it folds and pays) and tiles at fp32, the tiles at
    the other precisions."""
    out = {}
    folded = ModelLines(model, geometry, "fp32", fold="auto", length=length)
    if folded.path == "folded":
        out["fp32 folded"] = folded
    for precision in precisions:
        out[f"{precision} tiles"] = ModelLines(model, geometry, precision, fold="no", length=length)
    return out


def table(name: str, models: list, geometry, raw, p, truth, valid, passes: int, precisions, columns=False) -> dict:
    """One set of lines (or columns): the filter, the roofline and every model's focusers, each model timed
    in alternation with the filter and the roofline."""
    length = raw.shape[1]
    rows, fold_checks = [], {}
    base = {"production filter": MatchedFilterLines(geometry), "roofline": Roofline(geometry, length)}
    filter_out = None
    for model_name, model, entry in models:
        focusers = {
            **base,
            **{f"{model_name} {k}": v for k, v in model_focusers(model, geometry, length, precisions).items()},
        }
        outputs, seconds = timed_side_by_side(focusers, raw, p, passes, columns)
        filter_rate, roof_rate = raw.shape[0] / seconds["production filter"], raw.shape[0] / seconds["roofline"]
        if filter_out is None:
            filter_out = outputs["production filter"][..., 0] if columns else outputs["production filter"]
            rows.append(
                {
                    "name": "production filter",
                    "path": "filter",
                    "precision": "fp32",
                    "params": 0,
                    "lines_per_second": filter_rate,
                    "vs_production_filter": 1.0,
                    "of_roofline": filter_rate / roof_rate,
                    **scores(filter_out, truth, valid),
                }
            )
        for label, lines in focusers.items():
            if label in base:
                continue
            out = outputs[label][..., 0] if columns else outputs[label]
            rate = raw.shape[0] / seconds[label]
            test_acc = entry["metrics"]["accuracy"] if entry else None
            row = {
                "name": model_name,
                "path": lines.path,
                "precision": lines.precision,
                "params": count_params(model),
                "lines_per_second": rate,
                "vs_production_filter": rate / filter_rate,
                "of_roofline": rate / roof_rate,
                "test_accuracy": test_acc,
                **scores(out, truth, valid),
            }
            rows.append(row)
            print(
                f"{name:>8} {model_name:>18} {lines.path:>6} {lines.precision:>12}: {rate:9.0f} lines/s "
                f"({row['vs_production_filter']:.3f} of the filter, {row['of_roofline']:.3f} of the roofline; "
                f"filter {filter_rate / roof_rate:.3f}), nmse {row['nmse_db']:.2f} dB, "
                f"valid {row['nmse_valid_db']:.2f}",
                flush=True,
            )
        if f"{model_name} fp32 folded" in outputs:
            fold_checks[model_name] = relative_difference(
                outputs[f"{model_name} fp32 folded"], outputs[f"{model_name} fp32 tiles"]
            )
    return {"lines": int(raw.shape[0]), "length": int(length), "rows": rows, "folded_vs_unfolded": fold_checks}


def fastest_beating(rows: list, baseline_acc: float) -> dict | None:
    """The fastest fp32 row of a student whose test accuracy beats the filter's."""
    beating = [
        r
        for r in rows
        if r["name"].startswith("student") and r["precision"] == "fp32" and (r.get("test_accuracy") or 0) > baseline_acc
    ]
    if not beating:
        return None
    best = max(beating, key=lambda r: r["lines_per_second"])
    return {k: best[k] for k in ("name", "path", "lines_per_second", "vs_production_filter", "of_roofline")}


def demo_models(sweep: Path, teacher: Path) -> list:
    return [(name, load_model(ckpt), entry) for name, ckpt, entry in front_checkpoints(sweep, teacher)]


def seed_size_teacher() -> SarSSM:
    """configs/teacher.yaml's model at the s1 geometry, as it starts (the matched filter; gates closed)."""
    cfg = RunConfig.from_file(ROOT / "configs" / "teacher.yaml")
    torch.manual_seed(0)
    return SarSSM(**{**cfg.model.to_dict(), "geometry": PRESETS["s1"].geometry().to_dict()}).eval()


def folded_end_bound(model: SarSSM, length: int) -> dict:
    """What the folded seed-size teacher must compute beyond the filter, counted: each gated layer's mixing
    (H x H complex multiply-accumulates) on the samples where its gate is open, at both ends, against one
    focusing pass of the filter (a forward and an inverse FFT of M points, 5 M log2 M real flops each, and
    M complex products). A lower bound on the ends' work (their convolutions, gates and the prefix on the
    windows come on top), so an upper bound on the folded model's speed relative to the filter."""
    geometry = model.geometry
    h = model.config.model_dim
    edge = int(geometry.aperture_range()[1] - 1) // 2
    gated = len(model.config.gated_layer_indices)
    mixing_flops = 8 * h * h * 2 * edge * gated  # a complex MAC is 8 real flops
    m = ProductionFilter(geometry, length).nfft
    filter_flops = 2 * 5 * m * np.log2(m) + 6 * m
    return {
        "edge_samples_each_end": edge,
        "gated_layers": gated,
        "model_dim": h,
        "mixing_flops_per_line": float(mixing_flops),
        "filter_flops_per_line": float(filter_flops),
        "speed_vs_filter_at_most": float(filter_flops / (filter_flops + mixing_flops)),
    }


def alternating(fns: dict, rounds: int = 5) -> dict:
    """Median seconds per call of each function, timed in alternation (one warm-up call each first)."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def seed_teacher(seed_code: Path) -> dict:
    """Our seed-size teacher (configs/teacher.yaml) against the seed's sarSSM, eval forward side by side."""
    spec = importlib.util.spec_from_file_location("seed_ssm", seed_code)
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    x, _ = simulate("s1", 32, seed=1)  # (32, 1000, 2) complex64
    ours = seed_size_teacher()
    theirs = seed.sarSSM(
        num_layers=6, input_dim=2, output_dim=1, model_dim=64, state_dim=540, use_selectivity=True
    ).eval()
    with torch.no_grad():
        seconds = alternating({"ours": lambda: infer(ours, x), "seed": lambda: theirs(x)})
    ours_s, theirs_s = seconds["ours"], seconds["seed"]
    return {
        "batch": 32,
        "length": 1000,
        "ours_forward_s": ours_s,
        "seed_forward_s": theirs_s,
        "speedup": theirs_s / ours_s,
        "ours_params": count_params(ours),
        "seed_params": sum(q.numel() for q in theirs.parameters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default=str(ROOT / "runs" / "demo" / "sweep"))
    parser.add_argument("--teacher", default=str(ROOT / "runs" / "demo" / "teacher"))
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--seed_code", default=str(ROOT.parent / "shared" / "seeds" / "reference" / "SSM.py"))
    args = parser.parse_args()
    parts = args.parts.split(",")
    torch.set_num_threads(2)
    sweep = Path(args.sweep)
    baseline_acc = json.loads((sweep / "pareto.json").read_text())["baseline"]["accuracy"]
    result = {"goals": GOALS, "batch": BATCH, "matched_filter_test_accuracy": baseline_acc}
    mini = PRESETS["mini"].geometry()
    models = demo_models(sweep, Path(args.teacher)) if {"columns", "scene", "long"} & set(parts) else []
    if "columns" in parts:
        x, y = simulate("mini", 2048, seed=7)
        raw = x.numpy()
        truth = y.numpy()[..., 0]
        from kdssm.metrics import valid_mask

        valid = valid_mask(x, "mini").numpy()
        t = table("columns", models, mini, raw, None, truth, valid, args.passes, ("fp32",), columns=True)
        t["fastest_beating_student"] = fastest_beating(t["rows"], baseline_acc)
        result["columns"] = t
        write_result("focus", result)  # after every part: a later part's failure keeps the earlier ones
    for part, (azimuth, range_bins), precisions in (
        ("scene", (1000, 4096), PRECISIONS),
        ("long", (8192, 2048), ("fp32",)),
    ):
        if part in parts:
            raw, truth, p, valid = scene_arrays(mini, azimuth, range_bins)
            t = table(part, models, mini, raw, p, truth, valid, args.passes, precisions)
            t["fastest_beating_student"] = fastest_beating(t["rows"], baseline_acc)
            result[part] = {"geometry": "mini", "azimuth": azimuth, "range_bins": range_bins, **t}
            write_result("focus", result)
    if "s1" in parts:
        s1 = PRESETS["s1"].geometry()
        # a real scene's range bins are contiguous: 128 at S1 IW's 2.33 m slant-range spacing, mid-swath
        span = 128 * 2.33 / (s1.slant_range_far_m - s1.slant_range_near_m)
        raw, truth, p, valid = scene_arrays(s1, 8192, 128, 0.5 + span * np.linspace(-0.5, 0.5, 128))
        teacher = seed_size_teacher()
        t = table("s1", [("seed-size teacher", teacher, None)], s1, raw, p, truth, valid, args.passes, ("fp32",))
        result["s1"] = {
            "geometry": "s1",
            "azimuth": 8192,
            "range_bins": 128,
            **t,
            "bound": folded_end_bound(teacher, 8192),
        }
        print("bound", result["s1"]["bound"], flush=True)
        write_result("focus", result)
    if "seed" in parts:
        result["seed_teacher"] = seed_teacher(Path(args.seed_code))
        st = result["seed_teacher"]
        print(
            f"seed-size teacher forward: ours {st['ours_forward_s']:.3f} s, seed's {st['seed_forward_s']:.3f} s",
            flush=True,
        )
    print(f"wrote {write_result('focus', result)}")


if __name__ == "__main__":
    main()
