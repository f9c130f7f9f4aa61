"""`kdssm train`: fit a model on ground truth into a run directory and score it per the output contract."""
from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger
from torch.utils.data import DataLoader

from ..checkpoint import save_model
from ..config import RunConfig
from ..data.datasets import load_split
from ..evaluate import evaluate_matched_filter, evaluate_model
from ..models import build_model
from . import rundir
from .module import GroundTruthModule


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf; the last good checkpoint is kept."""


def quiet_lightning() -> None:
    """Keep Lightning's start-up chatter (tips, device lines) out of the user's terminal."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")


def make_trainer(cfg: RunConfig, root: Path, progress: bool, callbacks: list) -> pl.Trainer:
    t = cfg.training
    accelerator = "gpu" if t.accelerator == "cuda" else t.accelerator
    return pl.Trainer(
        max_epochs=t.num_epochs,
        max_time={"minutes": t.max_minutes} if t.max_minutes > 0 else None,
        accelerator=accelerator,
        devices=1,
        precision=t.precision,
        gradient_clip_val=t.grad_clip if t.grad_clip > 0 else None,
        callbacks=callbacks,
        logger=CSVLogger(str(root), name="logs", version=0),
        enable_progress_bar=progress,
        enable_model_summary=False,
        log_every_n_steps=10,
        num_sanity_val_steps=0,
    )


def train_run(cfg: RunConfig, save_dir: str | Path, *, overwrite: bool = False, kind: str = "teacher",
              progress: bool = True) -> dict:
    """Train cfg.model on ground truth, write model.ckpt and summary.json into save_dir, return the summary."""
    quiet_lightning()
    root, resuming = rundir.prepare(save_dir, cfg, overwrite)
    train, val, test = (load_split(cfg.data, which) for which in ("train", "val", "test"))
    if cfg.training.num_threads:
        torch.set_num_threads(cfg.training.num_threads)
    pl.seed_everything(cfg.training.seed, workers=True, verbose=False)
    model = build_model(cfg.model)
    t = cfg.training
    steps_per_epoch = math.ceil(len(train) / t.batch_size)
    module = GroundTruthModule(model, t, total_steps=t.num_epochs * steps_per_epoch, preset=cfg.data.preset)
    best = ModelCheckpoint(dirpath=str(root / rundir.LIGHTNING_DIR), filename="best", monitor="val_nmse_db",
                           mode="min", save_top_k=1, save_last=True)
    stop = EarlyStopping(monitor="val_nmse_db", mode="min", patience=t.early_stopping_patience)
    trainer = make_trainer(cfg, root, progress, [best, stop])
    loaders = (DataLoader(train.dataset(), batch_size=t.batch_size, shuffle=True),
               DataLoader(val.dataset(), batch_size=max(t.batch_size, 64)))
    started = time.perf_counter()
    try:
        trainer.fit(module, *loaders, ckpt_path=str(rundir.last_checkpoint(root)) if resuming and rundir.last_checkpoint(root) else None)
    except FloatingPointError as err:
        raise TrainingDiverged(f"{err}; stopped, the last good checkpoint in {root / rundir.LIGHTNING_DIR} is untouched") from None
    train_seconds = time.perf_counter() - started
    if best.best_model_path:
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    return finish(model, cfg, root, test, kind, {
        "epochs": trainer.current_epoch, "train_seconds": round(train_seconds, 1),
        "best_val_nmse_db": float(best.best_model_score) if best.best_model_score is not None else None})


def finish(model: torch.nn.Module, cfg: RunConfig, root: Path, test, kind: str, training: dict) -> dict:
    """Write model.ckpt, then score on the test split against the matched filter into summary.json."""
    model = model.cpu().eval()
    save_model(model, root / "model.ckpt", kind)
    preset = cfg.data.preset
    summary = {
        "kind": kind,
        **evaluate_model(model, test.x, test.y, preset),
        "matched_filter": evaluate_matched_filter(test.x, test.y, preset),
        "preset": preset,
        "test_columns": len(test),
        "training": training,
        "model": cfg.model.to_dict(),
    }
    rundir.write_json(root / rundir.SUMMARY_FILE, summary)
    return summary
