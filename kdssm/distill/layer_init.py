"""A student that starts as its teacher with layers left out (distillation.init_layers).

With init_layers = [t_0, ..., t_{m-1}] (one teacher layer per student layer, increasing), the student's
weights before the first step are

    layers[i], norms[i], gates[i]  <-  the teacher's layers[t_i], norms[t_i], gates[t_i]
    input_proj, output_proj, shrink  <-  the teacher's own

so the untrained student is the teacher's residual stream with the layers not named dropped:
u_{i+1} = u_i + g_{t_i}(u_i) * f_{t_i}(u_i). This is the layer-dropping start of DistilBERT (every
other layer of the teacher), here for sarSSM: it needs the student's width, state sizes, gates and range
grid to match the teacher's where a tensor is copied, and a student layer is gated exactly where its
teacher layer is (a gate copied without its layer, or a layer without its gate, would be a different
function). Whatever the student's own start was (model.init) is overwritten; freeze_focus then keeps the
teacher's first layer, which the student took as its own focusing path.
"""

from __future__ import annotations

import itertools

from torch import nn

from ..config import ConfigError

PER_LAYER = ("layers", "norms", "gates")  # state_dict prefixes indexed by layer


def check_init_layers(init_layers: list[int], teacher_layers: int, student_layers: int) -> None:
    """One teacher layer per student layer, in the teacher, increasing; else a one-line ConfigError."""
    if len(init_layers) != student_layers:
        raise ConfigError(
            f"distillation.init_layers: {init_layers} names {len(init_layers)} teacher layers for a student "
            f"of {student_layers} (model.num_layers): one each"
        )
    outside = [t for t in init_layers if t >= teacher_layers]
    if outside:
        raise ConfigError(f"distillation.init_layers: the teacher has layers 0..{teacher_layers - 1}, not {outside[0]}")
    if any(b <= a for a, b in itertools.pairwise(init_layers)):
        raise ConfigError(f"distillation.init_layers: {init_layers} must increase (the teacher's order, none twice)")


def teacher_key(student_key: str, init_layers: list[int]) -> str:
    """The teacher's state_dict key a student key is copied from: 'layers.1.x' -> 'layers.<t_1>.x'."""
    parts = student_key.split(".")
    if parts[0] in PER_LAYER:
        parts[1] = str(init_layers[int(parts[1])])
    return ".".join(parts)


def copied_state(student: nn.Module, teacher: nn.Module, init_layers: list[int]) -> dict:
    """The student's state_dict taken from the teacher, or a one-line ConfigError naming the first tensor
    that cannot be copied (a shape, or a gate on one side only)."""
    check_init_layers(init_layers, len(teacher.layers), len(student.layers))
    for i, t in enumerate(init_layers):
        if (str(i) in student.gates) != (str(t) in teacher.gates):
            gated, plain = ("student", "teacher") if str(i) in student.gates else ("teacher", "student")
            raise ConfigError(
                f"distillation.init_layers: student layer {i} and teacher layer {t} differ in their gate "
                f"(the {gated}'s is gated, the {plain}'s not; model.gate_layers)"
            )
    source = teacher.state_dict()
    state = {}
    for key, value in student.state_dict().items():
        from_key = teacher_key(key, init_layers)
        if from_key not in source or source[from_key].shape != value.shape:
            have = "absent" if from_key not in source else f"shape {tuple(source[from_key].shape)}"
            raise ConfigError(
                f"distillation.init_layers: the student's {key} {tuple(value.shape)} cannot start from the "
                f"teacher's {from_key} ({have}); the copied layers need the teacher's widths"
            )
        state[key] = source[from_key]
    return state


def start_from_teacher(student: nn.Module, teacher: nn.Module, init_layers: list[int]) -> None:
    """Overwrite the student's weights with the teacher's (module docstring); checks everything first."""
    student.load_state_dict(copied_state(student, teacher, init_layers))
    student.init_used = "teacher_layers"
