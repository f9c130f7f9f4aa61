"""Every CUDA path once, for the first GPU at hand (issue 26 item 5): at most 10 minutes on one GPU.

    python benchmarks/gpu_check.py [--out DIR]        (benchmarks/gpu_check.sh sets up and calls it)

One line per path, `ok` or `FAIL`, its wall time and what it measured; the JSON of every line lands in
DIR/gpu_check.json. Sizes are the seed's (configs/teacher.yaml 64/540/6 on s1, the gated seed presets) on a
few columns each: this checks that the paths run and agree, it is no benchmark.

1. a training epoch of the s1 teacher on CUDA, fp32 and bf16 autocast (`kdssm train --accelerator cuda`)
2. a distillation epoch of the compressed_gated student from it, bf16 (`kdssm distill`)
3. the same as a 1-GPU Ray Train run (`--num_workers 1 --use_gpu`, nccl)
4. the sweep's smoke test of configs/sweep.yaml on the GPU (`kdssm sweep --smoke-test --use_gpu`)
5. `kdssm focus --device cuda` of an s1 scene (the teacher folded, and on tiles; the production filter beside
   it), equal to `--device cpu` and to each other within 1e-4 of the largest output
6. `kdssm plan`'s GPU estimate of a teacher training step against the peak torch measures

Without CUDA it says so and exits 2 (`--cpu` runs the same paths on the CPU, to check the script itself).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FEW = ["--train_size", "64", "--val_size", "32", "--test_size", "32", "--batch_size", "16", "--quiet"]


def kdssm(*args: str) -> str:
    """Run a kdssm command; its output, or RuntimeError with its last error line."""
    done = subprocess.run([sys.executable, "-m", "kdssm.cli", *args], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit {done.returncode}"]
        raise RuntimeError(lines[-1][:300])
    return done.stdout


def train_teacher(work: Path, device: str) -> str:
    for precision in ("32-true", "bf16-mixed"):
        kdssm(
            "train", "--config", "configs/teacher.yaml", *FEW, "--num_epochs", "1", "--accelerator", device,
            "--precision", precision, "--save_dir", str(work / f"teacher-{precision}"),
        )  # fmt: skip
    summary = json.loads((work / "teacher-32-true" / "summary.json").read_text())
    return f"s1 teacher 64/540/6, fp32 and bf16: nmse {summary['nmse_db']:.2f} dB after one epoch of 64 columns"


def distill_student(work: Path, device: str, ray: bool = False) -> str:
    extra = []
    if ray:  # one Ray Train worker, on the GPU when there is one
        extra = ["--num_workers", "1", *(["--use_gpu"] if device == "cuda" else [])]
    out = work / ("student-ray" if ray else "student")
    kdssm(
        "distill", "--teacher_checkpoint", str(work / "teacher-32-true"), "--student_config", "configs/student.yaml",
        "--student_preset", "compressed_gated", *FEW, "--num_epochs", "1", "--curriculum_epochs", "0",
        "--accelerator", device, "--precision", "bf16-mixed" if device == "cuda" else "32-true",
        "--save_dir", str(out), *extra,
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    return f"compressed_gated: retention {summary['retention']:.4f} after one epoch"


def sweep_smoke(work: Path, device: str) -> str:
    gpu = ["--use_gpu"] if device == "cuda" else []
    kdssm(
        "sweep", "--teacher_checkpoint", str(work / "teacher-32-true"), "--config", "configs/sweep.yaml",
        "--smoke-test", "--batch_size", "16", "--tracking_uri", "", "--save_dir", str(work / "sweep"), "--quiet", *gpu,
    )  # fmt: skip
    front = json.loads((work / "sweep" / "pareto.json").read_text())["front"]
    return f"{len(front)} student(s) on the front"


def focus_equal(work: Path, device: str) -> str:
    import numpy as np

    scene = work / "scene.npz"
    kdssm("scene", "--preset", "s1", "--azimuth", "3000", "--range_bins", "32", "--output", str(scene))
    outputs = {}
    runs = (("cpu", "auto"), (device, "auto"), (device, "no"))  # the folded path on both, the tiles on the device
    for i, (where, fold) in enumerate(runs):  # --cpu: the same device twice
        path = work / f"focused-{i}-{where}-{fold}.npz"
        kdssm(
            "focus", str(work / "teacher-32-true"), "--input", str(scene), "--output", str(path), "--device", where,
            "--fold", fold, "--compare", "matched_filter",
        )  # fmt: skip
        outputs[i] = np.load(path)
    if str(outputs[0]["path"]) != "folded" or str(outputs[2]["path"]) != "tiles":
        raise RuntimeError(f"paths {outputs[0]['path']}, {outputs[2]['path']}: expected folded and tiles")
    diffs = {}
    for name, (a, b, key) in {
        f"folded {device} vs cpu": (1, 0, "focused"),
        f"folded vs tiles on {device}": (1, 2, "focused"),
        f"production filter {device} vs cpu": (1, 0, "matched_filter"),
    }.items():
        want = outputs[b][key]
        diffs[name] = float(np.abs(outputs[a][key] - want).max()) / float(np.abs(want).max())
    worst = max(diffs, key=diffs.get)
    if diffs[worst] > 1e-4:
        raise RuntimeError(f"{worst}: differs by {diffs[worst]:.2e} of the largest output")
    return ", ".join(f"{k}: {v:.1e}" for k, v in diffs.items()) + " of the largest output (limit 1e-4)"


def plan_against_peak(work: Path, device: str) -> str:
    import torch

    from kdssm.config import RunConfig
    from kdssm.data import simulate
    from kdssm.data.datasets import with_column_geometry
    from kdssm.inference import infer
    from kdssm.models import build_model, freeze_focusing_path
    from kdssm.preflight import gpu_memory

    cfg = with_column_geometry(RunConfig.from_file(REPO / "configs" / "teacher.yaml"), quiet=True)
    estimate = gpu_memory(cfg)
    if device != "cuda":
        return f"estimate {estimate / 2**30:.2f} GB (no GPU: no peak to compare)"
    model = build_model(cfg.model).cuda()
    freeze_focusing_path(model)
    x, y = simulate("s1", cfg.training.batch_size, seed=0)
    torch.cuda.reset_peak_memory_stats()
    loss = (model(x.cuda()) - y.cuda()).abs().pow(2).mean()
    loss.backward()
    model.eval()
    infer(model, x.cuda())  # the validation forward: every grid point's spectra cached
    peak = torch.cuda.max_memory_allocated()
    return f"plan {estimate / 2**30:.2f} GB, measured peak {peak / 2**30:.2f} GB (ratio {estimate / peak:.2f})"


PATHS = [
    ("training step, s1 teacher (fp32, bf16)", train_teacher),
    ("distillation step, compressed_gated (bf16)", distill_student),
    ("1-GPU Ray Train distillation", lambda w, d: distill_student(w, d, ray=True)),
    ("sweep --smoke-test --use_gpu", sweep_smoke),
    ("focus --device cuda vs cpu", focus_equal),
    ("plan's GPU estimate vs peak", plan_against_peak),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for gpu_check.json")
    parser.add_argument("--cpu", action="store_true", help="run the paths on the CPU (checks the script itself)")
    args = parser.parse_args()
    import torch

    device = "cpu" if args.cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (pass --cpu to run the paths on the CPU)", file=sys.stderr)
        return 2
    where = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    print(f"gpu_check on {where}, torch {torch.__version__}", flush=True)
    lines, failed = [], 0
    with tempfile.TemporaryDirectory(prefix="kdssm-gpu-check-") as tmp:
        for name, path in PATHS:
            started = time.perf_counter()
            try:
                detail, ok = path(Path(tmp), device), True
            except Exception as err:  # every path gets its line; the first error line says why
                detail, ok = f"{type(err).__name__}: {err}", False
                failed += 1
            seconds = time.perf_counter() - started
            print(f"{'ok  ' if ok else 'FAIL'} {name:<45} {seconds:7.1f} s  {detail}", flush=True)
            lines.append({"path": name, "ok": ok, "seconds": round(seconds, 1), "detail": detail})
    Path(args.out, "gpu_check.json").write_text(json.dumps({"device": where, "paths": lines}, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
