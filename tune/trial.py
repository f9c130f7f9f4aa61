"""One trial of the sweep: a sampled student distilled by the Ray Train run of `kdssm distill --num_workers`.

The trial function runs inside a Tune trial and launches a TorchTrainer (Ray Train V2). Its epoch
reports reach Tune through a TuneReportCallback that adds the trial's constant objectives, so the
searcher and the early-stopping rule see every objective in every result.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import ray
from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback

from kdssm.checkpoint import load_model
from kdssm.config import RunConfig
from kdssm.data.datasets import load_split, load_unlabelled
from kdssm.distill.runner import check_teacher_identity, compute_targets, coupled_layers, plan_from_targets
from kdssm.evaluate import latency_ms_per_column
from kdssm.models import build_model, count_params
from kdssm.train import distributed, rundir
from kdssm.train.cluster import ClusterOptions
from kdssm.train.history import read_history
from kdssm.train.plan import RunPlan

from . import space
from .early_stop import StopAtRung

QUALITY = "quality"  # the quality objective as reported: best validation value so far
PARAMS = "params"
LATENCY = "latency_ms"


@dataclass
class SweepContext:
    """What every trial shares; handed over once through the object store (tune.with_parameters)."""

    base: RunConfig  # the student config the sampled fields override
    trials_dir: str
    teacher_checkpoint: str
    teacher_sha: str
    targets: dict | None  # distill.runner.compute_targets over every teacher layer; None: each trial runs it
    cluster: ClusterOptions  # num_workers = search.workers_per_trial
    board: object = None  # early_stop.RungBoard actor; None: no early stopping


def quality_key(cfg: RunConfig) -> tuple[str, str]:
    """(validation metric, mode) of the configured quality objective."""
    if cfg.search.accuracy_objective == "accuracy":
        return "val_accuracy", "max"
    return "val_nmse_valid_db", "min"


def objectives(cfg: RunConfig) -> list[tuple[str, str]]:
    out = [(QUALITY, quality_key(cfg)[1]), (PARAMS, "min")]
    return out + ([(LATENCY, "min")] if cfg.search.latency_objective else [])


class ReportToTune(TuneReportCallback):
    """Each epoch's metrics to Tune, with the constant objectives and the best quality so far."""

    def __init__(self, constants: dict, metric: str, mode: str):
        super().__init__()
        self.constants, self.metric, self.mode = constants, metric, mode
        self.best: float | None = None

    def after_report(self, run_context, metrics, checkpoint):
        reported = dict(metrics[0])
        value = reported.get(self.metric)
        if value is not None:
            better = self.best is None or (value > self.best if self.mode == "max" else value < self.best)
            self.best = value if better else self.best
        reported.update(self.constants, epochs_done=int(reported.get("epoch", -1)) + 1)
        if self.best is not None:
            reported[QUALITY] = self.best
        super().after_report(run_context, [reported, *metrics[1:]], checkpoint)


def final_report(summary: dict, constants: dict, cfg: RunConfig, root: Path) -> dict:
    """The trial's last result: the best validation quality (as in epoch reports) and the test scores."""
    metric, mode = quality_key(cfg)
    history = read_history(root / distributed.HISTORY_FILE)
    values = [row[metric] for row in history if metric in row]
    quality = (max(values) if mode == "max" else min(values)) if values else float("nan")
    return {**constants, QUALITY: quality, "epochs_done": summary["training"]["epochs"],
            "test_accuracy": summary["accuracy"], "test_nmse_valid_db": summary["nmse_valid_db"],
            "retention": summary.get("retention"), "stopped_early": summary.get("stopped_early", False),
            "final": True}


def run_trial(config: dict, ctx: SweepContext) -> None:
    trial_id = tune.get_context().get_trial_id()
    root = Path(ctx.trials_dir) / trial_id
    cfg = space.apply(ctx.base, config)
    student = build_model(cfg.model)
    constants = {PARAMS: count_params(student)}
    test = load_split(cfg.data, "test")
    if cfg.search.latency_objective:  # fixed by the architecture: measured once, on the untrained student
        constants[LATENCY] = latency_ms_per_column(student.eval(), test.x)
    summary_path = root / rundir.SUMMARY_FILE
    if summary_path.is_file():  # finished before the sweep was interrupted: report it, never train it again
        tune.report(final_report(json.loads(summary_path.read_text()), constants, cfg, root))
        return
    teacher = load_model(ctx.teacher_checkpoint)
    pairs = coupled_layers(cfg, teacher)
    targets = ctx.targets
    if targets is None:  # share_teacher false: this trial pays for the teacher itself
        train, val = (load_split(cfg.data, which) for which in ("train", "val"))
        targets = compute_targets(cfg, teacher, ctx.teacher_sha, list(range(teacher.config.num_layers)),
                                  train, val, load_unlabelled(cfg.data), cache_dir=None)
    fit = plan_from_targets(cfg, teacher, pairs, targets)
    root, resuming = rundir.prepare(root, cfg)
    check_teacher_identity(root, Path(ctx.teacher_checkpoint), ctx.teacher_sha, resuming)
    run = RunPlan(fit, root, resuming, test, "student")
    metric, mode = quality_key(cfg)
    stop = []
    if ctx.board is not None:
        stop = [StopAtRung(ctx.board, trial_id, metric, mode, tuple(constants[k] for k, _ in objectives(cfg)[1:]))]
    summary = distributed.execute(run, ctx.cluster, progress=False,
                                  callbacks=[ReportToTune(constants, metric, mode)], worker_callbacks=stop)
    if ctx.board is not None and ray.get(ctx.board.was_stopped.remote(trial_id)):
        summary["stopped_early"] = True
        rundir.write_json(root / rundir.SUMMARY_FILE, summary)
    tune.report(final_report(summary, constants, cfg, root))
