"""Exports reproduce the eager model to 1e-5 relative (ONNX in ONNX Runtime) with a free batch size."""

import pytest
import torch

from kdssm.deploy.errors import DeployError
from kdssm.deploy.export import check_columns, export_model, run_exported

from .models import gated_student, saved, shrunk_student


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    return saved(gated_student("none", "identity", "all"), tmp_path_factory.mktemp("export") / "student")


@pytest.fixture(scope="module")
def shrunk(tmp_path_factory):
    return saved(shrunk_student(), tmp_path_factory.mktemp("export") / "shrunk")


MAKERS = {"gated": lambda: gated_student("none", "identity", "all"), "shrunk": shrunk_student}


@pytest.mark.parametrize("which", sorted(MAKERS))
@pytest.mark.parametrize("fmt, suffix", [("torchscript", ".pt"), ("exported-program", ".pt2"), ("onnx", ".onnx")])
def test_export_reproduces_the_eager_model(student, shrunk, tmp_path, fmt, suffix, which):
    out = tmp_path / f"student{suffix}"
    figures = export_model({"gated": student, "shrunk": shrunk}[which], fmt, out, length=256)
    assert out.is_file() and figures["relative_error"] <= 1e-5
    # another batch size than the one exported with, checked here independently of the command's own check
    model = MAKERS[which]()
    x = check_columns(model, 256)[:5]
    got = torch.view_as_complex(run_exported(fmt, out, torch.view_as_real(x).contiguous()).contiguous())
    want = model(x).detach()
    assert float((got - want).abs().norm() / want.abs().norm()) <= 1e-5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_export_refuses_bad_requests(student, tmp_path):
    with pytest.raises(DeployError, match="must end in .onnx"):
        export_model(student, "onnx", tmp_path / "student.pt")
    (tmp_path / "taken.pt").write_bytes(b"keep")
    with pytest.raises(DeployError, match="exists"):
        export_model(student, "torchscript", tmp_path / "taken.pt")
    assert (tmp_path / "taken.pt").read_bytes() == b"keep"
    with pytest.raises(DeployError, match="cannot tell the column length"):
        _custom_geometry_export(tmp_path)


def _custom_geometry_export(tmp_path):
    """A model of a geometry no preset has, outside a run folder: the length must be given."""
    from kdssm.models import SarSSM

    geometry = {**gated_student().geometry.to_dict(), "prf_hz": 700.0}
    folder = saved(SarSSM(model_dim=2, state_dim=32, num_layers=1, geometry=geometry), tmp_path / "custom")
    export_model(folder, "torchscript", tmp_path / "a.pt")


def test_cli_export_prints_one_line_errors(student, tmp_path, capsys):
    from kdssm.cli import main

    assert main(["export", student, "--format", "onnx", "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kdssm: error:") and err.count("\n") == 1
