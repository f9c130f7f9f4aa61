"""LightningModule training any model from ground truth."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pytorch_lightning as pl
import torch

from ..config import TrainConfig
from ..inference import infer
from ..losses import EPS, GROUND_TRUTH_LOSSES, column_normalised_mse, masked_normalised_mse
from ..metrics import valid_mask
from ..models import freeze_focusing_path, parameter_groups
from ..models.complex import power


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up over `warmup` steps, then cosine decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, total_steps: int, span=None):
    """AdamW with the SSM dynamics at their own rate and no decay; warm-up then cosine, per step.

    `span()` gives the steps the cosine spans at each step (default total_steps): a run that replans
    it (max_minutes) anneals by its deadline.
    """
    ssm, other = parameter_groups(model)
    groups = [{"params": other, "lr": cfg.learning_rate, "weight_decay": cfg.weight_decay}]
    if ssm:
        groups.append({"params": ssm, "lr": cfg.ssm_learning_rate, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups)
    warmup = max(1, int(cfg.warmup_fraction * total_steps))
    span = span or (lambda: total_steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, span(), warmup))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


GRAD_LOG_EVERY = 50
# The validation figures a run can be selected on (training.select_on): (logged metric, mode).
SELECTION = {
    "objective": ("val_objective_db", "min"),
    "nmse": ("val_nmse_db", "min"),
    "nmse_valid": ("val_nmse_valid_db", "min"),
    "accuracy": ("val_accuracy", "max"),
}


def selection(cfg: TrainConfig) -> tuple[str, str]:
    """(metric, mode) that picks the kept checkpoint and stops early; default the loss's own weighting."""
    return SELECTION[cfg.select_on]


def planned_steps(planned: int, steps_per_epoch: int, epoch_seconds: float, max_minutes: float) -> int:
    """Steps the warm-up and cosine schedule spans: every planned step, or, under a time budget, the whole
    epochs that fit in it at the measured epoch time (at least one), so the rate has annealed when the
    budget stops the run. Two runs under one budget then each anneal, however fast they are."""
    if max_minutes <= 0 or epoch_seconds <= 0:
        return planned
    return min(planned, max(1, int(max_minutes * 60.0 / epoch_seconds)) * steps_per_epoch)


def objective_db(
    nmse: torch.Tensor, nmse_valid: torch.Tensor, cfg: TrainConfig, column_nmse: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """The ground-truth objective on a whole split, in dB:
    10 log10(nmse + valid_weight nmse_valid + column_weight column_nmse).

    What the loss weighs, so the checkpoint kept is the one the training was after: a run that
    protects the valid region is not judged by the column edges alone.
    """
    return 10.0 * torch.log10(nmse + cfg.valid_weight * nmse_valid + cfg.column_weight * column_nmse)


class ValidationEnergy:
    """Sums of error and reference energy over a split (whole columns, then the valid region only),
    so that val NMSE is the whole-split ratio; and the sum of each column's own NMSE with the count."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.sums = torch.zeros(6, dtype=torch.float64)  # err, ref, err valid, ref valid, sum column nmse, columns

    def update(self, y_hat: torch.Tensor, y: torch.Tensor, x: torch.Tensor, preset) -> None:
        err, ref = power(y_hat - y), power(y)  # (B, L, 1) float
        mask = valid_mask(x, preset)[..., None]  # (B, L, 1) bool
        per_column = err.sum(dim=(1, 2)) / ref.sum(dim=(1, 2)).clamp_min(EPS)  # (B,) as column_normalised_mse
        columns = torch.tensor(float(y.shape[0]), device=y.device)
        batch = torch.stack([err.sum(), ref.sum(), err[mask].sum(), ref[mask].sum(), per_column.sum(), columns])
        self.sums = self.sums.to(y.device) + batch.double()

    def nmse(self, gather=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(whole-column NMSE, valid-region NMSE, mean column NMSE) of the split; `gather` sums the
        energies across ranks."""
        sums = gather(self.sums).reshape(-1, 6).sum(0) if gather else self.sums
        ratio = (sums[0:4:2] / sums[1:4:2].clamp_min(1e-30)).clamp_min(1e-30)
        return ratio[0], ratio[1], sums[4] / sums[5].clamp_min(1.0)


class GroundTruthModule(pl.LightningModule):
    """Trains `model` on (x, y) batches with the configured ground-truth loss."""

    def __init__(self, model: torch.nn.Module, cfg: TrainConfig, total_steps: int, preset):
        super().__init__()
        self.model = model
        self.cfg = cfg
        if cfg.freeze_focus:
            freeze_focusing_path(model)
        self.preset = preset
        self.total_steps = total_steps
        self.schedule_steps = total_steps  # what the LR schedule spans; replanned under max_minutes
        self._epoch_started: float | None = None
        self.loss_fn = GROUND_TRUTH_LOSSES[cfg.loss]
        self.val_energy = ValidationEnergy()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def ground_truth_loss(self, y_hat: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The configured loss over whole columns plus valid_weight x NMSE over the valid region.

        Whole-column error is dominated by the column edges, whose apertures are cut; the valid
        term keeps the model focusing well where the full aperture is available.
        """
        return self.whole_plus_valid(
            x, lambda: self.whole_loss(y_hat, y), lambda mask: masked_normalised_mse(y_hat, y, mask)
        )

    def whole_loss(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The configured loss over whole columns, plus column_weight x the mean of each column's own NMSE."""
        loss = self.loss_fn(y_hat, y)
        if self.cfg.column_weight > 0:
            loss = loss + self.cfg.column_weight * column_normalised_mse(y_hat, y)
        return loss

    def whole_plus_valid(
        self, x: torch.Tensor, whole: Callable[[], torch.Tensor], region: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """whole() + valid_weight x region(mask), mask (B, L, 1) bool the valid region of columns x
        (B, L, 2): how the objective weighs a column, whatever labels it."""
        loss = whole()
        if self.cfg.valid_weight > 0:
            loss = loss + self.cfg.valid_weight * region(valid_mask(x, self.preset)[..., None])
        return loss

    def training_step(self, batch, batch_idx):
        x, y = batch  # (B, L, 2), (B, L, 1) complex64
        loss = self.ground_truth_loss(self.model(x), y, x)
        self.stop_if_diverged(loss, "training")
        if self.writes_logs():
            self.log("train_loss", loss, prog_bar=True, batch_size=x.shape[0])
        return loss

    def writes_logs(self) -> bool:
        """Whether the loggers write this training step's values: every log_every_n_steps-th step.

        A step's self.log costs ~0.8 ms (Lightning moves its whole result collection each call),
        against a 20-30 ms step of the demo student; values logged on other steps are thrown away.
        """
        every = self.trainer.log_every_n_steps
        return (self.global_step + 1) % every == 0 or self.trainer.should_stop

    def stop_if_diverged(self, loss: torch.Tensor, what: str) -> None:
        """Raise FloatingPointError on every rank when the loss of any rank is NaN or Inf.

        Decided together: a rank that stopped alone would leave the others waiting in all-reduce.
        """
        bad = not bool(torch.isfinite(loss))
        if self.trainer.world_size > 1:
            bad = self.trainer.strategy.reduce_boolean_decision(bad, all=False)
        if bad:
            raise FloatingPointError(f"{what} loss became {loss.item()} at step {self.global_step}")

    def on_validation_epoch_start(self) -> None:
        self.val_energy.reset()

    def validation_step(self, batch, batch_idx):
        x, y = batch
        y_hat = infer(self.model, x)  # what the trained model will run: the inference implementation
        self.val_energy.update(y_hat, y, x, self.preset)
        self.log("val_loss", self.ground_truth_loss(y_hat, y, x), batch_size=x.shape[0], sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        # whole-split ratios across ranks, not a mean of per-rank ratios
        nmse, nmse_valid, column_nmse = self.val_energy.nmse(self.all_gather if self.trainer.world_size > 1 else None)
        self.log("val_nmse_db", (10.0 * torch.log10(nmse)).float(), prog_bar=True)
        self.log("val_nmse_valid_db", (10.0 * torch.log10(nmse_valid)).float())
        self.log("val_accuracy", (1.0 - nmse).clamp_min(0.0).float())  # metrics.accuracy on the val split
        self.log("val_objective_db", objective_db(nmse, nmse_valid, self.cfg, column_nmse).float())

    def on_before_optimizer_step(self, optimizer) -> None:
        """Every 50 steps: gradient norm of each layer of the trained model, and the total.

        Written to the loggers directly: Lightning's own throttle would drop most of these steps.
        """
        if self.global_step % GRAD_LOG_EVERY or not self.loggers:
            return
        norms = {}
        for i, layer in enumerate(getattr(self.model, "layers", [])):
            grads = [p.grad.norm() for p in layer.parameters() if p.grad is not None]
            if grads:
                norms[f"gradients/student/layer_{i}/norm"] = float(torch.stack(grads).norm())
        grads = [p.grad.norm() for p in self.model.parameters() if p.grad is not None]
        if grads:
            norms["gradients/student/total_norm"] = float(torch.stack(grads).norm())
        for logger in self.loggers:
            logger.log_metrics(norms, step=self.global_step)

    def on_train_epoch_start(self) -> None:
        if self.current_epoch == 0:
            self._epoch_started = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        """After the first epoch of a time-budgeted run: plan the schedule's span from its duration.

        Ranks agree on the slowest one's time, so every rank steps the same learning rate.
        """
        if self.current_epoch != 0 or self._epoch_started is None or self.cfg.max_minutes <= 0:
            return
        seconds = torch.tensor(time.perf_counter() - self._epoch_started, device=self.device)
        if self.trainer.world_size > 1:
            seconds = self.trainer.strategy.reduce(seconds, reduce_op="max")
        self.schedule_steps = planned_steps(
            self.total_steps, self.trainer.num_training_batches, float(seconds), self.cfg.max_minutes
        )

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["schedule_steps"] = self.schedule_steps

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.schedule_steps = checkpoint.get("schedule_steps", self.total_steps)

    def configure_optimizers(self):
        return build_optimizer(self, self.cfg, self.total_steps, lambda: self.schedule_steps)
