"""Schedules of the seed pipeline as pure functions of the epoch: curriculum weights, layer
selection, progressive coupling stages and dynamic temperature."""

from __future__ import annotations

import math
from dataclasses import dataclass

PHASES = ("student_only", "gradual_transition", "full_distillation")


@dataclass(frozen=True)
class Weights:
    alpha: float
    beta: float
    gamma: float
    phase: str

    @property
    def phase_index(self) -> int:
        return PHASES.index(self.phase)


def curriculum(epoch: int, curriculum_epochs: int, alpha: float, beta: float, gamma: float) -> Weights:
    """Student-only for `curriculum_epochs` (c), then a linear ramp to the targets over c epochs.

    progress = (epoch - c + 1) / c: epoch c is the first of the ramp and already carries 1/c of the
    teacher's weight (an epoch at progress 0 would be one more student-only epoch labelled
    otherwise); epoch 2c - 1 reaches the targets. With c = 0 the targets hold from the start.
    """
    if curriculum_epochs <= 0:
        return Weights(alpha, beta, gamma, "full_distillation")
    if epoch < curriculum_epochs:
        return Weights(1.0, 0.0, 0.0, "student_only")
    progress = min(1.0, (epoch - curriculum_epochs + 1) / curriculum_epochs)
    phase = "gradual_transition" if progress < 1.0 else "full_distillation"
    return Weights(1.0 - progress * (1.0 - alpha), progress * beta, progress * gamma, phase)


def strategic_layers(num_layers: int) -> list[int]:
    """Layers at comparable semantic depths (the seeds' rule): early and late for <= 2 layers,
    early/mid/late for <= 4, else the 25/50/75 % depths."""
    if num_layers <= 2:
        return sorted({0, num_layers - 1})
    if num_layers <= 4:
        return [0, num_layers // 2, num_layers - 1]
    return [num_layers // 4, num_layers // 2, 3 * num_layers // 4]


def matching_layer(layer: int, layers: int, other_layers: int) -> int:
    """The layer of a model of `other_layers` at the relative depth of `layer` of `layers`.

    Layer i of n ends at depth (i + 1) / n; the last layer of one model meets the last of the other.
    """
    return min(other_layers - 1, max(0, math.floor((layer + 1) * other_layers / layers + 0.5) - 1))


def coupling_pairs(
    teacher_layers: int, student_layers: int, teacher_sel: list[int] | None = None, student_sel: list[int] | None = None
) -> list[tuple[int, int]]:
    """(teacher layer, student layer) pairs at matching relative depth.

    Both selections given: paired one to one as given. One given: each of its layers meets the other
    model's layer at the same relative depth. None: the student's strategic layers and its last,
    each with the teacher's layer at its depth (the student's last layer with the teacher's last).
    """
    for name, sel, n in (
        ("teacher_layers", teacher_sel, teacher_layers),
        ("student_layers", student_sel, student_layers),
    ):
        bad = [i for i in sel or [] if not 0 <= i < n]
        if bad:
            raise ValueError(f"{name}: layer {bad[0]} does not exist (the model has {n} layers)")
    if teacher_sel and student_sel:
        if len(teacher_sel) != len(student_sel):
            raise ValueError(
                f"teacher_layers {list(teacher_sel)} and student_layers {list(student_sel)} must pair one to one"
            )
        return list(zip(teacher_sel, student_sel))
    if teacher_sel:
        return [(t, matching_layer(t, teacher_layers, student_layers)) for t in teacher_sel]
    s = list(student_sel) if student_sel else sorted({*strategic_layers(student_layers), student_layers - 1})
    return [(matching_layer(i, student_layers, teacher_layers), i) for i in s]


def teacher_layers(pairs: list[tuple[int, int]]) -> list[int]:
    """The distinct teacher layers the pairs couple, in order: the features to compute or cache."""
    return sorted({t for t, _ in pairs})


def coupling_stages(pairs: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Stage k couples the first k+1 pairs (early layers first); the last stage couples all."""
    return [pairs[: k + 1] for k in range(len(pairs))]


def stage_at(epoch: int, stage_epochs: int, num_stages: int) -> int:
    """The progressive stage in force at `epoch`: one more every `stage_epochs`, capped."""
    return min(epoch // stage_epochs, num_stages - 1)


def dynamic_temperature(epoch: int, num_epochs: int, temperature: float) -> float:
    """Anneal linearly from `temperature` at epoch 0 to 1 at the last epoch (softer targets early)."""
    progress = min(1.0, epoch / max(1, num_epochs - 1))
    return temperature + (1.0 - temperature) * progress
