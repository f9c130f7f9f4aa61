"""Kernels, cached kernels, inference latency, distillation step time, memory and simulator throughput,
each a ratio measured side by side in this one run.

    python benchmarks/performance.py [--quick]

Writes benchmarks/results/performance_<device>.json (cpu, or cuda when a GPU is present).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from kdssm.config import DistillConfig, TrainConfig
from kdssm.data import matched_filter, simulate
from kdssm.distill.module import DistillationModule
from kdssm.distill.schedules import coupling_pairs, teacher_layers
from kdssm.inference import infer
from kdssm.memory import peak_memory_mb
from kdssm.models import MODEL_PRESETS, SarSSM, count_params
from kdssm.models.s4d_kernel import kernel_chunked, kernel_reference

GOALS = {
    "kernel_speedup": 3.0,
    "cached_teacher_speedup": 10.0,
    "tiny_vs_teacher": 5.0,
    "compressed_vs_teacher": 2.5,
    "standard_vs_teacher": 1.05,
    "tiny_vs_matched_filter_max": 3.0,
    "distill_step_speedup": 2.0,
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats: int) -> float:
    """Median seconds of fn() over repeats, after one warm-up call."""
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def kernel_generation(device, repeats: int) -> dict:
    """Teacher-size kernels (64 channels, 270 modes, two directions, L 1000): reference vs chunked."""
    g = torch.Generator().manual_seed(0)
    shape = (2, 64, 270)
    c = torch.complex(torch.randn(shape, generator=g), torch.randn(shape, generator=g)).to(device)
    dt_a = torch.complex(-torch.rand(shape, generator=g) * 0.05, torch.rand(shape, generator=g) * 3).to(device)
    out = {}
    for name, fn in (("reference", kernel_reference), ("chunked", kernel_chunked)):
        cc, dd = c.clone().requires_grad_(), dt_a.clone().requires_grad_()
        with torch.no_grad():
            forward = timed(lambda: fn(c, dt_a, 1000), device, repeats)
        both = timed(lambda: fn(cc, dd, 1000).abs().pow(2).sum().backward(), device, repeats)
        out[name] = {"forward_s": forward, "forward_backward_s": both}
    out["speedup_forward"] = out["reference"]["forward_s"] / out["chunked"]["forward_s"]
    out["speedup_forward_backward"] = out["reference"]["forward_backward_s"] / out["chunked"]["forward_backward_s"]
    return out


def teacher(kernel: str = "fast", range_conditioning: bool = True) -> SarSSM:
    torch.manual_seed(0)
    return SarSSM(**MODEL_PRESETS["teacher"], range_conditioning=range_conditioning, kernel=kernel)


def cached_teacher(device, x, repeats: int) -> dict:
    """Seed-size teacher forward (batch 32, L 1000): the inference implementation's cached kernels vs the
    reference forward, which rebuilds them every call.

    `plain` is the seeds' teacher (one kernel per layer); `range_conditioned` builds 8 per layer.
    """
    xb = x[:32].to(device)
    out = {}
    for name, rc in (("plain", False), ("range_conditioned", True)):
        fast = teacher(range_conditioning=rc).to(device).eval()
        naive = teacher("reference", rc).to(device).eval()
        naive.load_state_dict(fast.state_dict())
        cached = timed(lambda: infer(fast, xb), device, repeats)
        with torch.enable_grad():  # the reference, as training runs it: every call rebuilds the kernels
            rebuilt_fast = timed(lambda: fast(xb), device, repeats)
            rebuilt_naive = timed(lambda: naive(xb), device, max(1, repeats // 2))
        out[name] = {
            "cached_s": cached,
            "rebuilt_fast_kernel_s": rebuilt_fast,
            "rebuilt_naive_kernel_s": rebuilt_naive,
            "speedup_vs_naive_rebuild": rebuilt_naive / cached,
            "speedup_vs_fast_rebuild": rebuilt_fast / cached,
        }
    return out


def aperture_teacher(device, x, repeats: int) -> dict:
    """Seed-size teacher on s1 with the geometry (aperture-keyed grid, 220 points, matched-filter start)
    against the same teacher on the uniform 8-point grid: cache build, cached forward, cache size."""
    from kdssm.geometry import PRESETS

    xb = x[:32].to(device)
    out = {}
    for name, extra in (("uniform8", {}), ("aperture_3", {"geometry": PRESETS["s1"].geometry().to_dict()})):
        torch.manual_seed(0)
        model = SarSSM(**MODEL_PRESETS["teacher"], range_conditioning=True, **extra).to(device).eval()
        with torch.no_grad():
            sync(device)
            start = time.perf_counter()
            infer(model, xb)  # builds and caches every layer's kernel spectra
            sync(device)
            build = time.perf_counter() - start
            cached = timed(lambda: infer(model, xb), device, repeats)
        spectra = sum(
            hit[1].numel() * hit[1].element_size() for layer in model.layers for hit in layer.conv._cache.values()
        )
        out[name] = {
            "grid_points": len(model.layers[0].conv.grid),
            "cache_build_s": build,
            "cached_forward_s": cached,
            "cached_spectra_mb": spectra / 2**20,
        }
    out["cached_forward_ratio_aperture_over_uniform"] = (
        out["aperture_3"]["cached_forward_s"] / out["uniform8"]["cached_forward_s"]
    )
    return out


def inference(device, x, preset: str, repeats: int) -> dict:
    """ms per column at batch 1 and 32 for the teacher, every student preset and the matched filter."""
    models = {"teacher": teacher()}
    for name in ("standard", "compressed", "tiny", "tiny16", "ultra"):
        torch.manual_seed(0)
        models[name] = SarSSM(**MODEL_PRESETS[name], range_conditioning=True)
    rows = {}
    for name, model in models.items():
        model = model.to(device).eval()
        with torch.no_grad():
            rows[name] = {
                f"b{b}_ms_per_column": 1e3 * timed(lambda: infer(model, x[:b].to(device)), device, repeats) / b
                for b in (1, 32)
            }
        rows[name]["params"] = count_params(model)
    rows["matched_filter"] = {
        f"b{b}_ms_per_column": 1e3 * timed(lambda: matched_filter(x[:b], preset), device, repeats) / b for b in (1, 32)
    }
    t = rows["teacher"]["b32_ms_per_column"]
    ratios = {f"{name}_speedup_vs_teacher_b32": t / r["b32_ms_per_column"] for name, r in rows.items()}
    ratios["tiny_over_matched_filter_b32"] = (
        rows["tiny"]["b32_ms_per_column"] / rows["matched_filter"]["b32_ms_per_column"]
    )
    return {"per_model": rows, "ratios": ratios}


def distill_step(device, x, y, repeats: int) -> dict:
    """One training step of a compressed student: teacher targets cached vs teacher recomputed."""
    t_model = teacher().to(device)
    student = SarSSM(**MODEL_PRESETS["compressed"], range_conditioning=True)
    pairs = coupling_pairs(6, 4)
    layers = teacher_layers(pairs)
    xb, yb = x[:32].to(device), y[:32].to(device)
    with torch.no_grad():
        t_out, t_feats = t_model.eval()(xb, return_features=True)
    labelled = torch.ones(xb.shape[0], dtype=torch.bool, device=device)
    cached_batch = (xb, yb, labelled, t_out, *(t_feats[i] for i in layers))
    results = {}
    for mode in ("cached_targets", "teacher_per_step_cached_kernels", "teacher_per_step_rebuilt"):
        module = DistillationModule(
            student, t_model, DistillConfig(curriculum_epochs=0), TrainConfig(), 100, "s1", pairs, features_cached=True
        ).to(device)
        opt = module.configure_optimizers()["optimizer"]
        state = module.state_for_epoch(0)

        def step():
            if mode == "cached_targets":
                batch = cached_batch
            else:
                grad = mode == "teacher_per_step_rebuilt"  # grad mode: kernels rebuilt, as a naive loop does
                with torch.set_grad_enabled(grad):
                    out, feats = t_model(xb, return_features=True)
                batch = (xb, yb, labelled, out.detach(), *(feats[i].detach() for i in layers))
            opt.zero_grad()
            module.loss_terms(batch, state)["total"].backward()
            opt.step()

        results[mode] = {"step_s": timed(step, device, repeats)}
    results["speedup_cached_vs_rebuilt"] = (
        results["teacher_per_step_rebuilt"]["step_s"] / results["cached_targets"]["step_s"]
    )
    results["speedup_cached_vs_teacher_cached_kernels"] = (
        results["teacher_per_step_cached_kernels"]["step_s"] / results["cached_targets"]["step_s"]
    )
    return results


def memory() -> dict:
    """Peak resident memory (MB) added by a seed-size teacher forward / training step, per kernel path."""
    out = {}
    for kernel in ("fast", "reference"):
        for mode in ("forward", "train_step"):
            model = {**MODEL_PRESETS["teacher"], "range_conditioning": True, "kernel": kernel}
            out[f"{kernel}_{mode}_mb"] = peak_memory_mb(1000, mode, model=model)
    if out["fast_train_step_mb"]:
        out["train_step_saving"] = out["reference_train_step_mb"] / out["fast_train_step_mb"]
    return out


def simulator_vs_training(repeats: int) -> dict:
    """Simulated columns/s against the columns/s a demo-teacher training step consumes."""
    sim = {}
    for preset, n in (("mini", 1024), ("s1", 256)):
        sim[f"{preset}_columns_per_s"] = n / timed(lambda: simulate(preset, n, 0), torch.device("cpu"), repeats)
    x, y = simulate("mini", 32, 0)
    model = SarSSM(model_dim=16, state_dim=128, num_layers=3, use_selectivity=True, range_conditioning=True)
    opt = torch.optim.AdamW(model.parameters())

    def step():
        opt.zero_grad()
        (model(x) - y).abs().pow(2).mean().backward()
        opt.step()

    appetite = 32 / timed(step, torch.device("cpu"), repeats)
    return {
        **sim,
        "demo_teacher_training_columns_per_s": appetite,
        "mini_simulator_headroom": sim["mini_columns_per_s"] / appetite,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    repeats = 3 if args.quick else 5
    x, y = simulate("s1", 32, 0)
    results = {"device": str(device)}
    for name, fn in (
        ("kernel_generation", lambda: kernel_generation(device, repeats)),
        ("cached_teacher", lambda: cached_teacher(device, x, repeats)),
        ("aperture_teacher_s1", lambda: aperture_teacher(device, x, repeats)),
        ("inference_s1", lambda: inference(device, x, "s1", repeats)),
        ("distill_step_compressed", lambda: distill_step(device, x, y, repeats)),
        ("memory_cpu", memory),
        ("simulator", lambda: simulator_vs_training(repeats)),
    ):
        if name in ("memory_cpu", "simulator") and device.type != "cpu":
            continue
        results[name] = fn()
        print(name, "done", flush=True)
    inf = results["inference_s1"]["ratios"]
    results["goals"] = {
        "kernel_speedup_forward_backward": [
            results["kernel_generation"]["speedup_forward_backward"],
            GOALS["kernel_speedup"],
        ],
        "cached_teacher_speedup (plain teacher)": [
            results["cached_teacher"]["plain"]["speedup_vs_naive_rebuild"],
            GOALS["cached_teacher_speedup"],
        ],
        "tiny_vs_teacher": [inf["tiny_speedup_vs_teacher_b32"], GOALS["tiny_vs_teacher"]],
        "compressed_vs_teacher": [inf["compressed_speedup_vs_teacher_b32"], GOALS["compressed_vs_teacher"]],
        "standard_vs_teacher": [inf["standard_speedup_vs_teacher_b32"], GOALS["standard_vs_teacher"]],
        "distill_step_speedup": [
            results["distill_step_compressed"]["speedup_cached_vs_rebuilt"],
            GOALS["distill_step_speedup"],
        ],
        "tiny_over_matched_filter (at most)": [
            inf["tiny_over_matched_filter_b32"],
            GOALS["tiny_vs_matched_filter_max"],
        ],
    }
    path = write_result(f"performance_{device.type}", results)
    for goal, (value, target) in results["goals"].items():
        print(f"{goal:40s} {value:8.2f}  (goal {target})")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
