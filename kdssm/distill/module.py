"""LightningModule distilling a frozen teacher into a student.

Batches carry the teacher's outputs (and, when cached, its coupled features) computed once per
split (teacher_cache.py), so the teacher runs per step only for features too large to cache, and
then with its kernels cached (it is frozen and in eval mode).
"""

from __future__ import annotations

import torch
from torch import nn

from .. import losses
from ..config import DistillConfig, TrainConfig
from ..inference import InferenceModel, infer
from ..train.module import GroundTruthModule
from . import schedules
from .projection import FeatureProjection


class DistillationModule(GroundTruthModule):
    """Student trained on alpha x ground truth + beta x teacher outputs + gamma x features
    + the distribution-preserving terms, with the curriculum and coupling schedules."""

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        dcfg: DistillConfig,
        tcfg: TrainConfig,
        total_steps: int,
        preset,
        pairs: list[tuple[int, int]],
        features_cached: bool,
        teacher_error: torch.Tensor | None = None,
    ):
        super().__init__(student, tcfg, total_steps, preset)
        self.dcfg = dcfg
        # (L,) the teacher's measured error per position: what the temperature scales (losses.py)
        self.register_buffer("teacher_error", teacher_error, persistent=False)
        # A list hides the teacher from nn.Module: not trained, not checkpointed, never put in
        # train mode by Lightning.
        self._teacher = [teacher.eval().requires_grad_(False)]
        self.pairs = pairs
        self.features_cached = features_cached
        self.stages = schedules.coupling_stages(pairs) if dcfg.progressive_coupling else [pairs]
        kind = dcfg.projection_type if dcfg.enhanced_projections else "linear"
        t_width, s_width = teacher.config.model_dim, student.config.model_dim
        self.projections = nn.ModuleDict(  # from the student's side (projection.py says why)
            {self.pair_name(t, s): FeatureProjection(s_width, t_width, kind) for t, s in pairs}
        )
        self.epoch_state = self.state_for_epoch(0)

    @staticmethod
    def pair_name(t: int, s: int) -> str:
        return f"t{t}_s{s}"

    @property
    def teacher(self) -> nn.Module:
        return self._teacher[0]

    def state_for_epoch(self, epoch: int) -> dict:
        d = self.dcfg
        weights = schedules.curriculum(epoch, d.curriculum_epochs, d.alpha, d.beta, d.gamma)
        stage = schedules.stage_at(epoch, d.stage_epochs, len(self.stages))
        temperature = (
            schedules.dynamic_temperature(epoch, self.cfg.num_epochs, d.temperature)
            if d.dynamic_temperature
            else d.temperature
        )
        teacher_share = weights.beta / d.beta if d.beta > 0 else (0.0 if weights.phase == "student_only" else 1.0)
        return {
            "weights": weights,
            "stage": stage,
            "couplings": self.stages[stage],
            "temperature": temperature,
            "teacher_share": teacher_share,
        }

    def on_fit_start(self) -> None:
        self.teacher.to(self.device).eval()

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        if self.teacher.training:
            raise RuntimeError("the teacher left eval mode during distillation")
        self.epoch_state = self.state_for_epoch(self.current_epoch)

    def teacher_features(self, x: torch.Tensor, cached: list[torch.Tensor]) -> dict[int, torch.Tensor]:
        layers = schedules.teacher_layers(self.pairs)
        if self.features_cached:
            return dict(zip(layers, cached))
        _, feats = infer(self.teacher, x, return_features=True)
        return {i: feats[i] for i in layers}

    def loss_terms(self, batch, state: dict, student=None) -> dict[str, torch.Tensor]:
        """Every loss term of a batch, unweighted; the total with the epoch's weights. student: the
        student's forward (default the reference, which training differentiates; validation passes the
        inference implementation).

        Terms that need the ground truth (student, confidence) see the labelled columns of the batch
        only, weighted by their share of it; the teacher terms see every column. The loss is then an
        average over columns, each contributing what it has: two labelled columns among thirty do not
        weigh as much as the thirty (measured: at full weight their noisy NMSE drowned the teacher's
        labels, and a student with 256 labelled of 4,352 columns learned no edges).
        """
        x, y, labelled, t_out, *cached = batch  # (B, L, 2), (B, L, 1), (B,) bool, (B, L, 1), features (B, L, Ht)
        s_out, s_feats = (student or self.model)(x, return_features=True)
        temp = state["temperature"]
        has_labels = bool(labelled.any())
        every = bool(labelled.all())

        def labelled_only(t: torch.Tensor) -> torch.Tensor:
            return t if every else t[labelled]

        zero = s_out.real.sum() * 0.0  # keeps the graph (and DDP) whole when a batch has no labels
        labelled_share = labelled.float().mean()  # () labelled share of the batch
        terms = {
            "student": labelled_share * self.ground_truth_loss(labelled_only(s_out), labelled_only(y), labelled_only(x))
            if has_labels
            else zero,
            "distillation": self.teacher_label_loss(s_out, t_out, x, temp, self.trust(s_out, t_out, y, labelled)),
        }
        w, d = state["weights"], self.dcfg
        feature = s_out.new_zeros((), dtype=torch.float32)
        if w.gamma > 0 or not self.training:
            t_feats = self.teacher_features(x, cached)
            for t, s in state["couplings"]:
                projected = self.projections[self.pair_name(t, s)].real_pairs(s_feats[s])  # (B, L, 2 Ht) float32
                feature = feature + losses.feature_loss(projected, t_feats[t]) / len(state["couplings"])
        terms["feature"] = feature
        total = w.alpha * terms["student"] + w.beta * terms["distillation"] + w.gamma * feature
        if d.preserve_distribution:
            terms["variance"] = losses.variance_loss(s_out, t_out)
            terms["moment"] = losses.moment_loss(s_out, t_out)
            terms["confidence"] = (
                labelled_share
                * losses.confidence_loss(
                    labelled_only(s_out), labelled_only(t_out), labelled_only(y), d.confidence_softness or temp
                )
                if has_labels
                else zero
            )
            share = state["teacher_share"]
            total = total + share * (
                d.variance_weight * terms["variance"]
                + d.moment_weight * terms["moment"]
                + d.confidence_weight * terms["confidence"]
            )
        terms["total"] = total
        return terms | {"_y_hat": s_out}

    def trust(
        self, s_out: torch.Tensor, t_out: torch.Tensor, y: torch.Tensor, labelled: torch.Tensor
    ) -> torch.Tensor | None:
        """(B, L, 1) where the teacher's label counts: with `teacher_bound`, on labelled columns only
        where the teacher is closer to the truth than the student (losses.teacher_bound), everywhere
        on unlabelled ones; None (everywhere) without it or without labels."""
        if not self.dcfg.teacher_bound or not bool(labelled.any()):
            return None
        bound = losses.teacher_bound(s_out, t_out, y)  # (B, L, 1)
        return torch.where(labelled[:, None, None], bound, torch.ones_like(bound))

    def teacher_label_loss(
        self,
        s_out: torch.Tensor,
        t_out: torch.Tensor,
        x: torch.Tensor,
        temperature: float,
        trust: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The teacher's output taken as a label with the ground-truth objective's own weighting: the
        whole column, column_weight x each column's own ratio, valid_weight x the valid region
        (distillation_loss on each), so a column the teacher labels teaches what a labelled one does.
        `trust` (B, L, 1) as `trust()` gives it."""

        def loss(mask: torch.Tensor | None = None) -> torch.Tensor:
            return losses.distillation_loss(s_out, t_out, temperature, self.teacher_error, mask, trust)

        def whole() -> torch.Tensor:
            out = loss()
            if self.cfg.column_weight > 0:
                per_column = losses.distillation_loss(
                    s_out, t_out, temperature, self.teacher_error, None, trust, columns=True
                )
                out = out + self.cfg.column_weight * per_column
            return out

        return self.whole_plus_valid(x, whole, loss)

    def log_terms(self, prefix: str, terms: dict, batch_size: int) -> None:
        for name, value in terms.items():
            if not name.startswith("_"):
                self.log(
                    f"{prefix}_{name}_loss",
                    value,
                    batch_size=batch_size,
                    sync_dist=prefix == "val",
                    prog_bar=name == "total",
                )

    def training_step(self, batch, batch_idx):
        terms = self.loss_terms(batch, self.epoch_state)
        self.stop_if_diverged(terms["total"], "distillation")
        if self.writes_logs():
            self.log_terms("train", terms, batch[0].shape[0])
        return terms["total"]

    def on_train_epoch_end(self) -> None:
        """The epoch's schedule values, once (they are constant within an epoch)."""
        super().on_train_epoch_end()
        state = self.epoch_state
        w = state["weights"]
        for name, value in (
            ("curriculum/alpha", w.alpha),
            ("curriculum/beta", w.beta),
            ("curriculum/gamma", w.gamma),
            ("curriculum/phase", float(w.phase_index)),
            ("progressive/stage", float(state["stage"])),
            ("progressive/num_couplings", float(len(state["couplings"]))),
            ("temperature", state["temperature"]),
        ):
            self.log(name, value, on_step=False, on_epoch=True)

    def validation_step(self, batch, batch_idx):
        terms = self.loss_terms(batch, self.state_for_epoch(self.current_epoch), InferenceModel(self.model))
        self.val_energy.update(terms["_y_hat"], batch[1], batch[0], self.preset)
        self.log_terms("val", terms, batch[0].shape[0])
