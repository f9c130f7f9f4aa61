"""The training section (optimisation on ground truth) and the distillation section (loss weights, schedules)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import Section

LayerIndex = Annotated[int, Field(ge=0)]


class TrainConfig(Section):
    """Optimisation of a model on ground truth (and, later, on a teacher)."""

    SECTION = "training"
    num_epochs: int = Field(
        20, ge=0, description="maximum number of epochs (0: evaluate the initialised model, no training)"
    )
    batch_size: int = Field(32, ge=1, description="columns per step")
    learning_rate: float = Field(3e-3, gt=0.0, description="AdamW learning rate of non-SSM parameters")
    ssm_learning_rate: float = Field(1e-3, gt=0.0, description="learning rate of S4D A and dt (no weight decay)")
    weight_decay: float = Field(0.01, ge=0.0, description="AdamW weight decay of non-SSM parameters")
    warmup_fraction: float = Field(0.05, ge=0.0, le=0.9, description="share of all steps spent in linear warm-up")
    loss: Literal["nmse", "mse"] = Field(
        "nmse", description="ground-truth loss: complex MSE, or it divided by the batch's power"
    )
    valid_weight: float = Field(
        1.0,
        ge=0.0,
        description="weight of an extra NMSE term over each column's valid "
        "region (samples whose whole aperture is inside the column)",
    )
    column_weight: float = Field(
        0.0,
        ge=0.0,
        description="weight of an extra term: the mean over a batch's columns of each column's own NMSE, so "
        "columns without bright targets (clutter alone) count beside those with them",
    )
    freeze_focus: bool = Field(
        False,
        description="keep the matched-filter start's focusing path fixed (input projection, first layer, output "
        "projection): the valid region stays the filter's and only the later, gated layers learn the edges",
    )
    grad_clip: float = Field(1.0, ge=0.0, description="gradient norm clip (0 disables)")
    early_stopping_patience: int = Field(10, ge=1, description="epochs without val improvement before stopping")
    select_on: Literal["objective", "nmse", "nmse_valid", "accuracy"] = Field(
        "objective",
        description="validation figure that picks the kept checkpoint and stops early: objective "
        "(nmse + valid_weight x valid nmse, as the loss weighs them), nmse, nmse_valid or accuracy",
    )
    max_minutes: float = Field(
        0.0,
        ge=0.0,
        description="wall-clock training budget in minutes (0: none); the "
        "learning-rate schedule then spans the epochs that fit, planned from the first "
        "epoch's time",
    )
    seed: int = Field(0, ge=0, description="seed of initialisation and shuffling")
    accelerator: Literal["auto", "cpu", "gpu", "cuda"] = Field("auto", description="cpu, gpu or auto")
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = Field(
        "32-true", description="Lightning precision (FFTs always run in fp32)"
    )
    num_threads: int = Field(0, ge=0, description="torch CPU threads (0: torch's default)")


class DistillConfig(Section):
    """Distillation loss weights and schedules, as named by the seed pipeline."""

    SECTION = "distillation"
    temperature: float = Field(
        2.5,
        gt=0.0,
        description="T: the error the student assumes in the teacher's labels: teacher terms weigh position i "
        "by 1 / (1 + T e_i), e_i the teacher's measured error there (losses.teacher_precision)",
    )
    alpha: float = Field(0.8, ge=0.0, description="weight of the ground-truth loss")
    beta: float = Field(0.15, ge=0.0, description="weight of the distillation loss")
    gamma: float = Field(0.05, ge=0.0, description="weight of the feature loss")
    curriculum_epochs: int = Field(15, ge=0, description="student-only epochs, then a ramp of the same length")
    progressive_coupling: bool = Field(False, description="couple layers in stages that advance every stage_epochs")
    stage_epochs: int = Field(20, ge=1, description="epochs per progressive coupling stage")
    teacher_layers: list[LayerIndex] = Field([], description="teacher layers to couple (empty: 25/50/75 % depths)")
    student_layers: list[LayerIndex] = Field([], description="student layers to couple (empty: 25/50/75 % depths)")
    init_layers: list[LayerIndex] = Field(
        [],
        description="the teacher layer each student layer starts from, increasing (empty: the student's own start, "
        "model.init); the student then starts as the teacher with the other layers left out (distill/layer_init.py)",
    )
    enhanced_projections: bool = Field(False, description="learnable complex projections between feature widths")
    projection_type: Literal["linear", "pca_init", "attention"] = Field("pca_init", description="projection kind")
    preserve_distribution: bool = Field(True, description="add variance, moment and confidence terms")
    variance_weight: float = Field(0.1, ge=0.0, description="weight of variance matching")
    moment_weight: float = Field(0.05, ge=0.0, description="weight of magnitude moment matching")
    confidence_weight: float = Field(0.02, ge=0.0, description="weight of the confidence term")
    confidence_softness: float | None = Field(
        None,
        gt=0.0,
        description="S of the confidence term's weights exp(-err / (S mean |y|^2)) (losses.confidence_loss); "
        "empty: the temperature's value, as before this field (and annealed with it by dynamic_temperature)",
    )
    dynamic_temperature: bool = Field(
        False, description="anneal the temperature linearly to 1 over training (softer teacher weights early)"
    )
    teacher_bound: bool = Field(
        True,
        description="on labelled columns, the teacher's output is a label only where the teacher is closer to "
        "the ground truth than the student (losses.teacher_bound); unlabelled columns keep the whole term",
    )
