"""`kdssm train`: fit a model on ground truth into a run directory and score it per the output contract."""

from __future__ import annotations

import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from .. import metrics
from ..checkpoint import save_model
from ..config import ConfigError, RunConfig
from ..data.datasets import data_columns, load_split, with_column_geometry
from ..evaluate import evaluate_matched_filter, evaluate_model, validation_scores
from ..files import MODEL_FILE
from ..models import build_model
from ..resources import check_disk, check_run, disk_needs
from . import folder_lock, rundir
from .module import GroundTruthModule, selection
from .plan import FitPlan, RunPlan, check_model
from .progress import progress_callbacks
from .trainer import build_trainer, loaders, quiet_lightning, steps_per_epoch


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf; the last good checkpoint is kept."""


def plan_training(cfg: RunConfig, save_dir: str | Path, overwrite: bool = False, kind: str = "teacher") -> RunPlan:
    """Check the data, then prepare (or resume) the run folder; nothing is trained yet."""
    if cfg.data.has_unlabelled:
        raise ConfigError(
            "data.unlabelled_size: only `kdssm distill` learns from unlabelled columns (the teacher labels them)"
        )
    check_run(with_column_geometry(cfg, quiet=True), "training")  # before any column or weight is allocated
    check_disk(save_dir, disk_needs(cfg), "training")
    train, val, test = (load_split(cfg.data, which) for which in ("train", "val", "test"))  # checked first
    cfg = with_column_geometry(cfg)
    check_model(cfg)
    root, resuming = rundir.prepare(save_dir, cfg, overwrite)
    return RunPlan(FitPlan(cfg, train.dataset(), val.dataset(), ground_truth_module), root, resuming, test, kind)


def ground_truth_module(plan: FitPlan) -> GroundTruthModule:
    return GroundTruthModule(
        build_model(plan.cfg.model), plan.cfg.training, plan.total_steps, preset=data_columns(plan.cfg.data)
    )


def execute(run: RunPlan, progress: bool = True, callbacks: list | None = None) -> dict:
    """Fit in this process (resuming from the last checkpoint), then write model.ckpt and summary.json.

    callbacks: extra Lightning callbacks (a sweep trial's reports to Tune and its early stopping).
    """
    try:
        quiet_lightning()
        seed_and_threads(run.fit.cfg)
        module = run.fit.module()
        training = fit(
            module, run.fit.cfg, run.root, run.resuming, run.fit.train_ds, run.fit.val_ds, progress, callbacks or []
        )
        return finish(module.model, run, training)
    finally:
        folder_lock.release(run.root)  # held since rundir.prepare


def train_run(
    cfg: RunConfig, save_dir: str | Path, *, overwrite: bool = False, kind: str = "teacher", progress: bool = True
) -> dict:
    """Train cfg.model on ground truth, write model.ckpt and summary.json into save_dir, return the summary."""
    return execute(plan_training(cfg, save_dir, overwrite, kind), progress)


def seed_and_threads(cfg: RunConfig) -> None:
    if cfg.training.num_threads:
        torch.set_num_threads(cfg.training.num_threads)
    pl.seed_everything(cfg.training.seed, workers=True, verbose=False)


def fit(
    module: pl.LightningModule,
    cfg: RunConfig,
    root: Path,
    resuming: bool,
    train_ds,
    val_ds,
    progress: bool,
    callbacks: list = (),
) -> dict:
    """Fit with early stopping and best/last checkpoints (resuming from last), then load the best weights.

    Returns what the summary records of the training itself.
    """
    t = cfg.training
    metric, mode = selection(t)
    if t.num_epochs == 0:  # evaluate the initialised model as it is
        return {"epochs": 0, "train_seconds": 0.0, "selected_on": metric, "best_value": None, "best_epoch": None}
    best = ModelCheckpoint(
        dirpath=str(root / rundir.LIGHTNING_DIR),
        filename="best",
        monitor=metric,
        mode=mode,
        save_top_k=1,
        save_last=True,
    )
    bar, lines = progress_callbacks(progress, t.num_epochs)
    trainer = build_trainer(
        t,
        steps_per_epoch(t, train_ds),
        [best, *callbacks, *lines],
        accelerator="gpu" if t.accelerator == "cuda" else t.accelerator,
        devices=1,
        logger=CSVLogger(str(root), name="logs"),  # a new version per invocation: a resume never overwrites
        enable_progress_bar=bar,
    )
    last = rundir.last_checkpoint(root) if resuming else None
    started = time.perf_counter()
    try:
        trainer.fit(module, *loaders(t, train_ds, val_ds), ckpt_path=str(last) if last else None)
    except FloatingPointError as err:
        raise TrainingDiverged(
            f"{err}; stopped, the last good checkpoint in {root / rundir.LIGHTNING_DIR} is untouched"
        ) from None
    seconds = time.perf_counter() - started
    best_epoch = None
    if best.best_model_path:
        kept = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
        module.load_state_dict(kept["state_dict"])
        best_epoch = int(kept["epoch"])
    return {
        "epochs": trainer.current_epoch,
        "train_seconds": round(seconds, 1),
        "selected_on": metric,
        "best_value": float(best.best_model_score) if best.best_model_score is not None else None,
        "best_epoch": best_epoch,
        "schedule_steps": module.schedule_steps,
    }


def finish(model: torch.nn.Module, run: RunPlan, training: dict) -> dict:
    """Write model.ckpt, then score on the test split against the matched filter into summary.json.

    The kept model's validation scores (what a search selects on) go under "validation". With a
    teacher, its figures on the same columns and the student's retention are added; `run.reference`
    (a sweep's teacher and matched-filter scores, computed once by its driver) spares scoring them again.
    """
    cfg, test = run.fit.cfg, run.test
    model = model.cpu().eval()
    save_model(model, run.root / MODEL_FILE, run.kind)
    preset = data_columns(cfg.data)
    val_x, val_y = run.fit.val_ds.tensors[:2]  # (N, L, 2), (N, L, 1) complex64
    summary = {
        "kind": run.kind,
        **evaluate_model(model, test.x, test.y, preset),
        "validation": validation_scores(model, val_x, val_y, preset),
        "init": {"used": getattr(model, "init_used", None), "fit_db": getattr(model, "init_fit_db", None)},
    }
    reference = run.reference or {}
    teacher = run.fit.teacher
    if teacher is not None:
        summary["teacher"] = reference.get("teacher") or evaluate_model(teacher, test.x, test.y, preset)
        summary["retention"] = metrics.retention(summary["accuracy"], summary["teacher"]["accuracy"])
        summary["param_reduction"] = 1.0 - summary["params"] / summary["teacher"]["params"]
    summary.update(
        {
            "matched_filter": reference.get("matched_filter") or evaluate_matched_filter(test.x, test.y, preset),
            "preset": cfg.data.preset,
            "test_columns": len(test),
            "training": training,
            "model": cfg.model.to_dict(),
        }
    )
    rundir.write_json(run.root / rundir.SUMMARY_FILE, summary)
    return summary
