"""Data-parallel distillation on Ray Train: samples/s with 1 and 2 workers, and where a step's time goes.

    python benchmarks/distributed.py [--train_size 2048] [--epochs 3]

Both runs distil the same untrained demo-sized teacher into the same student on the same columns,
one after the other on this machine (a local Ray). Throughput counts only the epochs between the
first and the last epoch report (Ray start-up and worker launch excluded; both are reported).
The step split comes from Lightning's SimpleProfiler on rank 0: data (next batch from the loader),
forward (student forward + every loss term; the teacher's outputs and features come from the
once-per-run cache, whose one-off cost is reported apart), backward (with DDP's gradient all-reduce,
which overlaps it), optimizer step. The all-reduce estimate is backward(2 workers) - backward(1).
Writes benchmarks/results/distributed.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from common import write_result

from kdssm.checkpoint import save_model
from kdssm.config import RunConfig
from kdssm.distill.runner import plan_distillation
from kdssm.models import SarSSM
from kdssm.train import distributed
from kdssm.train.cluster import ClusterOptions, connect
from kdssm.train.history import read_history

ROOT = Path(__file__).resolve().parents[1]
PHASES = {
    "data": "[_TrainingEpochLoop].train_dataloader_next",
    "forward": "[Strategy]RayDDPStrategy.training_step",
    "backward_and_allreduce": "[Strategy]RayDDPStrategy.backward",
    "optimizer_step_with_closure": "[LightningModule]DistillationModule.optimizer_step",
    "whole_batch": "run_training_batch",
}


def phase_split(profile: dict) -> dict:
    """ms per step; Lightning's optimizer_step runs forward and backward inside its closure, so the
    update alone is optimizer_step - forward - backward."""
    out = {name: round(profile[key]["mean_s"] * 1000, 2) for name, key in PHASES.items() if key in profile}
    if {"optimizer_step_with_closure", "forward", "backward_and_allreduce"} <= out.keys():
        out["optimizer_update"] = round(
            out["optimizer_step_with_closure"] - out["forward"] - out["backward_and_allreduce"], 2
        )
    return out


def run(workers: int, teacher_dir: Path, cfg: RunConfig, folder: Path) -> dict:
    started = time.perf_counter()
    plan = plan_distillation(cfg, teacher_dir, folder, overwrite=True)
    targets_s = time.perf_counter() - started
    summary = distributed.execute(plan, ClusterOptions(num_workers=workers, profile=True), progress=False)
    history = read_history(folder / "history.jsonl")
    epochs = len(history) - 1
    seconds = history[-1]["time"] - history[0]["time"]
    columns = cfg.data.train_size
    return {
        "workers": workers,
        "samples_per_s": round(epochs * columns / seconds, 1),
        "seconds_per_epoch": round(seconds / epochs, 2),
        "run_seconds_incl_startup": summary["training"]["train_seconds"],
        "teacher_targets_once_s": round(targets_s, 2),
        "step_ms_rank0": phase_split(summary["training"]["profile"]),
        "best_value": summary["training"]["best_value"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_size", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    import logging

    import ray

    ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    connect(ClusterOptions(num_workers=2))
    teacher_cfg = RunConfig.from_file(ROOT / "configs/demo/teacher.yaml")
    cfg = RunConfig.from_file(ROOT / "configs/demo/student.yaml").with_overrides(
        {
            "model": {"model_dim": 8, "state_dim": 64, "num_layers": 2},
            "data": {"train_size": args.train_size},
            "training": {"num_epochs": args.epochs + 1, "max_minutes": 0, "early_stopping_patience": 100},
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        teacher_dir = Path(tmp) / "teacher"
        teacher_dir.mkdir()
        teacher_cfg.dump(teacher_dir / "config.yaml")
        torch.manual_seed(0)
        save_model(SarSSM(**teacher_cfg.model.to_dict()), teacher_dir / "model.ckpt", "teacher")
        rows = [run(w, teacher_dir, cfg, Path(tmp) / f"w{w}") for w in (1, 2)]
    one, two = rows
    backward = [r["step_ms_rank0"].get("backward_and_allreduce") for r in rows]
    result = {
        "setup": {
            "teacher": "16/128/3 gated, untrained",
            "student": "8/64/2",
            "preset": "mini",
            "train_columns": args.train_size,
            "batch_per_worker": cfg.training.batch_size,
            "timed_epochs": args.epochs,
            "cpus_per_worker": 1,
        },
        "runs": rows,
        "speedup_2_vs_1": round(two["samples_per_s"] / one["samples_per_s"], 3),
        "allreduce_estimate_ms": round(backward[1] - backward[0], 2) if None not in backward else None,
    }
    path = write_result("distributed", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
