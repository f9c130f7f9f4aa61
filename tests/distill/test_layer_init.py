"""distillation.init_layers: a student that starts as its teacher with layers left out (distill/layer_init.py)."""

import json

import pytest
import torch

from kdssm import load_model
from kdssm.config import ConfigError
from kdssm.distill.layer_init import copied_state, start_from_teacher, teacher_key
from kdssm.models import SarSSM

from ..helpers import cli, flags, sets, teacher_folder

GATED = dict(model_dim=6, state_dim=16, use_selectivity=True, range_conditioning=True, init="random")
DATA = dict(preset="mini", train_size=64, val_size=32, test_size=32)


def columns(n: int = 4, length: int = 96) -> torch.Tensor:
    """(n, L, 2) complex64: a random line and a position channel, as the models read them."""
    g = torch.Generator().manual_seed(1)
    line = torch.complex(torch.randn(n, length, generator=g), torch.randn(n, length, generator=g))
    p = torch.rand(n, 1, generator=g).expand(n, length)
    return torch.stack([line, p.to(torch.complex64)], dim=-1)


def test_keys_map_per_layer_tensors_only():
    assert teacher_key("layers.1.conv.c", [0, 2]) == "layers.2.conv.c"
    assert teacher_key("gates.1.hidden.weight", [0, 3]) == "gates.3.hidden.weight"
    assert teacher_key("input_proj.weight", [0, 2]) == "input_proj.weight"


def test_student_is_the_teacher_with_the_other_layers_left_out():
    torch.manual_seed(0)
    teacher = SarSSM(num_layers=4, **GATED).eval()
    student = SarSSM(num_layers=2, **GATED).eval()
    start_from_teacher(student, teacher, [0, 3])
    assert student.init_used == "teacher_layers"
    x = columns()
    before = student(x)
    with torch.no_grad():  # silence the teacher's layers 1 and 2: their updates are then zero
        teacher.layers[1].mix.weight.zero_()
        teacher.layers[2].mix.weight.zero_()
        torch.testing.assert_close(before, teacher(x), rtol=1e-5, atol=1e-6)
    assert not torch.equal(before, SarSSM(num_layers=2, **GATED).eval()(x))  # not the student's own start


def test_every_layer_kept_is_the_teacher_itself():
    torch.manual_seed(0)
    teacher = SarSSM(num_layers=3, **GATED).eval()
    student = SarSSM(num_layers=3, **GATED).eval()
    start_from_teacher(student, teacher, [0, 1, 2])
    x = columns()
    with torch.no_grad():
        torch.testing.assert_close(student(x), teacher(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    "student, layers, message",
    [
        (dict(num_layers=2), [0], "names 1 teacher layers for a student of 2 (model.num_layers): one each"),
        (dict(num_layers=2), [0, 4], "the teacher has layers 0..3, not 4"),
        (dict(num_layers=2), [2, 2], "[2, 2] must increase"),
        (dict(num_layers=2), [1, 2], "student layer 0 and teacher layer 1 differ in their gate"),
        (dict(num_layers=2, model_dim=8), [0, 3], "the student's input_proj.weight (8, 1, 2) cannot start"),
        (dict(num_layers=2, state_dim=8), [0, 3], "a_log_re (6, 4) cannot start from the teacher's layers.0"),
    ],
)
def test_a_start_that_cannot_be_copied_is_one_line(student, layers, message):
    teacher = SarSSM(num_layers=4, **GATED)
    model = SarSSM(**(GATED | student))
    with pytest.raises(ConfigError, match="distillation.init_layers") as err:
        copied_state(model, teacher, layers)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.fixture(scope="module")
def gated_teacher(tmp_path_factory):
    root = tmp_path_factory.mktemp("gated_teacher")
    torch.manual_seed(0)
    teacher_folder(root, GATED | dict(num_layers=3, init="auto"), DATA)
    return root


STUDENT = flags(student_num_layers=2, student_model_dim=6, student_state_dim=16, num_epochs=1, batch_size=16)
STUDENT += sets(use_selectivity=True, range_conditioning=True)  # the teacher's kind of layer
SPLITS = flags(train_size=64, val_size=32, test_size=32, curriculum_epochs=0, quiet=True)


def test_kdssm_distill_starts_from_the_teacher_layers(gated_teacher, tmp_path):
    out = tmp_path / "student"
    argv = ["distill", "--teacher_checkpoint", str(gated_teacher), *STUDENT, *SPLITS, "--save_dir", str(out)]
    still = sets(learning_rate=1e-9, ssm_learning_rate=1e-9)  # one epoch that leaves the start where it was
    assert cli([*argv, *sets(init_layers="[0, 2]"), *still]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["init"]["used"] == "teacher_layers"
    teacher, student = load_model(gated_teacher), load_model(out)
    for name in ("layers.1.conv.c", "gates.1.hidden.weight", "layers.0.mix.weight", "output_proj.weight"):
        got, want = student.state_dict()[name], teacher.state_dict()[teacher_key(name, [0, 2])]
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_kdssm_distill_refuses_a_start_it_cannot_copy_in_one_line(gated_teacher, tmp_path, capsys):
    out = tmp_path / "student"
    argv = ["distill", "--teacher_checkpoint", str(gated_teacher), *STUDENT, *SPLITS, "--save_dir", str(out)]
    assert cli([*argv, "--init_layers", "1,2"]) == 2  # the flag; --set distillation.init_layers=[1, 2] alike
    err = capsys.readouterr().err.strip()
    assert "distillation.init_layers: student layer 0 and teacher layer 1 differ in their gate" in err
    assert "\n" not in err and "Traceback" not in err
    assert not out.exists()  # refused before the run folder
