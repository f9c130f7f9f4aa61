"""One trial of the sweep: a sampled student distilled in the Tune trial itself, or by a Ray Train run.

A single-worker trial (search.trial_runner auto) fits with Lightning inside the trial's own process,
which Tune gave the worker's CPUs (GPU): no Ray Train controller, worker group or second copy of the
teacher's targets, so a trial costs its training and little else (Ray Train start-up was ~20 s
per trial on 2 cores). A multi-worker trial (or trial_runner ray_train) launches the TorchTrainer of
`kdssm distill --num_workers`. Either way every epoch reaches Tune with the trial's constant
objectives and its best validation quality so far, and is appended to the trial's history.jsonl,
from which a restarted trial takes its best value back.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback

from kdssm.checkpoint import load_model
from kdssm.config import RunConfig
from kdssm.data.datasets import data_columns, load_split, load_unlabelled
from kdssm.distill.runner import Columns, Teacher, plan_student
from kdssm.evaluate import deployed_latency
from kdssm.models import build_model, count_params
from kdssm.models.cost import macs_per_column
from kdssm.train import distributed, rundir, runner
from kdssm.train.cluster import ClusterOptions
from kdssm.train.history import append_row, read_history

from . import objectives as goals
from . import shared_targets, space
from .early_stop import StopAtRung, ask
from .rungs import better

QUALITY, PARAMS = (o.reported for o in goals.listed())  # keys a trial reports (and its cost's, goals.COSTS)


@dataclass
class SweepContext:
    """What every trial shares; handed over once through the object store (tune.with_parameters)."""

    base: RunConfig  # the student config the sampled fields override
    trials_dir: str
    teacher_checkpoint: str
    teacher_sha: str
    targets: dict | None  # compute_targets over all teacher layers, as NumPy (shared_targets); None: trials run it
    cluster: ClusterOptions  # num_workers = search.workers_per_trial
    board: object = None  # rungs.RungBoard actor; None: no early stopping
    test: object = None  # datasets.Split of the test columns, loaded once by the driver
    reference: dict | None = None  # {"teacher", "matched_filter"}: test scores, computed once by the driver

    @property
    def in_trial(self) -> bool:
        """Train inside the Tune trial (True) or through a Ray Train run."""
        return self.cluster.num_workers == 1 and self.base.search.trial_runner == "auto"


def quality_key(cfg: RunConfig) -> tuple[str, str]:
    """(validation metric, mode) of the configured quality objective."""
    q = goals.quality(cfg.search.accuracy_objective)
    return q.label, q.mode


def objectives(cfg: RunConfig) -> list[tuple[str, str]]:
    """(reported key, mode) of every objective, in order: what Tune and the searcher optimise."""
    return [(o.reported, o.mode) for o in goals.of_search(cfg.search)]


def architecture_cost(cfg: RunConfig, student: torch.nn.Module, x: torch.Tensor) -> float:
    """The search's third objective of a student, fixed by its architecture (search.cost_measure): its
    MACs per column, or its latency as a ratio to the matched filter timed beside it."""
    if cfg.search.cost_measure == "macs":
        return float(macs_per_column(student, x.shape[1]))
    return deployed_latency(student, x, data_columns(cfg.data), cfg.search.latency_length)["latency_vs_filter"]


def best_so_far(history: list[dict], metric: str, mode: str) -> float | None:
    """The best value of metric over a trial's history rows (None before its first epoch)."""
    best = None
    for row in history:
        if metric in row and better(row[metric], best, mode):
            best = row[metric]
    return best


class EpochsToTune(pl.Callback):
    """In-trial runs: each validated epoch to history.jsonl and to Tune, with the constant objectives and
    the best quality so far (restored from the history when the trial restarts)."""

    def __init__(self, history: Path, constants: dict, metric: str, mode: str, best: float | None):
        """best: the best value in the history before a restart (best_so_far)."""
        self.history, self.constants, self.metric, self.mode, self.best = history, constants, metric, mode, best

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        # after the epoch's validation (whose figures the module has logged by now), before the next epoch
        row = append_row(self.history, trainer.callback_metrics, trainer.current_epoch)
        value = row.get(self.metric)
        if value is not None and better(value, self.best, self.mode):
            self.best = value
        reported = {**row, **self.constants, "epochs_done": trainer.current_epoch + 1}
        if self.best is not None:
            reported[QUALITY] = self.best
        tune.report(reported)


class ReportToTune(TuneReportCallback):
    """Each epoch's metrics to Tune, with the constant objectives and the best quality so far."""

    def __init__(self, constants: dict, metric: str, mode: str):
        super().__init__()
        self.constants, self.metric, self.mode = constants, metric, mode
        self.best: float | None = None

    def after_report(self, run_context, metrics, checkpoint):
        reported = dict(metrics[0])
        value = reported.get(self.metric)
        if value is not None and better(value, self.best, self.mode):
            self.best = value
        reported.update(self.constants, epochs_done=int(reported.get("epoch", -1)) + 1)
        if self.best is not None:
            reported[QUALITY] = self.best
        super().after_report(run_context, [reported, *metrics[1:]], checkpoint)


def final_report(summary: dict, constants: dict, cfg: RunConfig, root: Path, started: float) -> dict:
    """The trial's last result: the best validation quality (as in epoch reports), the test scores, and
    the seconds since the trial function began (trial_seconds; its fixed cost is that minus the fit)."""
    metric, mode = quality_key(cfg)
    quality = best_so_far(read_history(root / distributed.HISTORY_FILE), metric, mode)
    return {
        **constants,
        QUALITY: float("nan") if quality is None else quality,
        "epochs_done": summary["training"]["epochs"],
        "test_accuracy": summary["accuracy"],
        "test_nmse_valid_db": summary["nmse_valid_db"],
        "retention": summary.get("retention"),
        "stopped_early": summary.get("stopped_early", False),
        "trial_seconds": round(time.perf_counter() - started, 3),
        "trial_ended_at": time.time(),  # wall clock: when the driver's next trial could start (many_trials.py)
        "final": True,
    }


def run_trial(config: dict, ctx: SweepContext) -> None:
    started = time.perf_counter()
    trial_id = tune.get_context().get_trial_id()
    root = Path(ctx.trials_dir) / trial_id
    cfg = space.apply(ctx.base, config)
    if ctx.in_trial and ctx.cluster.use_gpu:
        cfg = cfg.with_overrides({"training": {"accelerator": "cuda"}})
    threads = cfg.training.num_threads or ctx.cluster.cpus_per_worker
    torch.set_num_threads(threads)  # the CPUs Tune reserved for this trial (latency is measured on them too)
    student = build_model(cfg.model)
    constants = {PARAMS: count_params(student)}
    test = ctx.test if ctx.test is not None else load_split(cfg.data, "test")
    if cfg.search.latency_objective:  # fixed by the architecture: measured once, on the untrained student
        constants[goals.COSTS[cfg.search.cost_measure].reported] = architecture_cost(cfg, student, test.x)
    summary_path = root / rundir.SUMMARY_FILE
    if summary_path.is_file():  # finished before the sweep was interrupted: report it, never train it again
        tune.report(final_report(json.loads(summary_path.read_text()), constants, cfg, root, started))
        return
    teacher = Teacher(Path(ctx.teacher_checkpoint), load_model(ctx.teacher_checkpoint), ctx.teacher_sha)
    targets = shared_targets.to_torch(ctx.targets) if ctx.targets is not None else None  # no copy
    if targets is not None:  # the sweep ran the teacher once, over every layer, for all trials
        unlabelled = targets["unlabelled"][0] if "unlabelled" in targets else None
        columns = Columns(targets["train"][0], targets["val"][0], test, unlabelled)
    else:  # share_teacher false: this trial pays for the teacher itself (nothing cached)
        train, val = (load_split(cfg.data, which) for which in ("train", "val"))
        columns = Columns(train, val, test, load_unlabelled(cfg.data))
    run = plan_student(cfg, teacher, root, columns, targets=targets, cache=False, reference=ctx.reference)
    root = run.root
    history = root / distributed.HISTORY_FILE
    if not run.resuming:
        history.unlink(missing_ok=True)
    metric, mode = quality_key(cfg)
    best = best_so_far(read_history(history), metric, mode)  # a restarted trial keeps its best value
    stop = []
    if ctx.board is not None:
        stop = [
            StopAtRung(
                ctx.board, trial_id, metric, mode, tuple(constants[k] for k, _ in objectives(cfg)[1:]), best=best
            )
        ]
    if ctx.in_trial:
        summary = runner.execute(
            run, progress=False, callbacks=[EpochsToTune(history, constants, metric, mode, best), *stop]
        )
    else:
        summary = distributed.execute(
            run, ctx.cluster, progress=False, callbacks=[ReportToTune(constants, metric, mode)], worker_callbacks=stop
        )
    if ctx.board is not None and ask(ctx.board.was_stopped.remote(trial_id), False):
        summary["stopped_early"] = True
        rundir.write_json(root / rundir.SUMMARY_FILE, summary)
    tune.report(final_report(summary, constants, cfg, root, started))
