"""`kdssm export`: a trained model as TorchScript, ONNX or a torch.export ExportedProgram.

What is exported is the frozen twin (frozen.py) at one tile length T: kernels baked in as spectra,
complex tensors as real views, so x (B, T, 2, 2) float32 -> y (B, T, 1, 2) float32 with a free batch
dimension. Each export is loaded back from the written file and run on simulated test columns of
the model's geometry: its outputs must equal the eager model's to `TOLERANCE` relative error, else
the file is not kept. ONNX runs in ONNX Runtime for that check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..files import atomic_write, input_clash, unwritable_reason
from ..geometry import PRESETS, columns_of
from ..inference import freeze
from ..report import first_line
from ..resources import check_scoring
from .errors import DeployError
from .formats import FORMATS
from .source import REGISTRY_PREFIX, load_source

TOLERANCE = 1e-5
CHECK_COLUMNS = 64


def training_length(checkpoint: Path, model) -> int:
    """L the model was trained on: its run's config, else the preset with its geometry."""
    config = checkpoint.parent / "config.yaml"
    if config.is_file():
        from ..config import RunConfig
        from ..data.datasets import data_columns

        try:
            return int(data_columns(RunConfig.from_file(config).data).length)
        except Exception:
            pass
    for preset in PRESETS.values():
        if model.geometry is not None and model.geometry == preset.geometry():
            return preset.length
    raise DeployError(f"{checkpoint}: cannot tell the column length it was trained on; give --length")


def check_columns(model, length: int) -> torch.Tensor:
    """Simulated test columns (CHECK_COLUMNS, T, 2) complex64 of the model's geometry (mini's without one)."""
    from ..data import simulate

    geometry = model.geometry or PRESETS["mini"].geometry()
    x, _ = simulate(columns_of(geometry, length), CHECK_COLUMNS, seed=20261128)
    return x


def _write(fmt: str, frozen, example: torch.Tensor, tmp: str) -> None:
    batch = torch.export.Dim("batch", min=1)
    if fmt == "torchscript":
        torch.jit.trace(frozen, example, check_trace=False).save(tmp)
    elif fmt == "exported-program":
        torch.export.save(torch.export.export(frozen, (example,), dynamic_shapes=({0: batch},)), tmp)
    else:
        torch.onnx.export(
            frozen,
            (example,),
            tmp,
            dynamo=True,
            dynamic_shapes=({0: batch},),
            input_names=["x"],
            output_names=["y"],
            verbose=False,
            external_data=False,
        )


def run_exported(fmt: str, path: Path, x_real: torch.Tensor) -> torch.Tensor:
    """The written file's outputs for x (B, T, 2, 2) float32 -> (B, T, 1, 2) float32."""
    if fmt == "torchscript":
        return torch.jit.load(str(path))(x_real)
    if fmt == "exported-program":
        return torch.export.load(str(path)).module()(x_real)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x_real.numpy()})[0])


def export_model(
    source: str,
    fmt: str,
    out: Path,
    length: int | None = None,
    tracking_uri: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Export, check against the eager model, keep the file only if it agrees; returns the figures."""
    if fmt not in FORMATS:
        raise DeployError(f"--format {fmt}: unknown (known: {', '.join(FORMATS)})")
    out = Path(out)
    if out.suffix != FORMATS[fmt]:
        raise DeployError(f"{out}: a {fmt} file must end in {FORMATS[fmt]}")
    clash = None if source.startswith(REGISTRY_PREFIX) else input_clash(out, [source])
    if clash is not None:
        raise DeployError(f"{out}: is or holds the model {clash}; write the export elsewhere")
    if out.exists() and not overwrite:
        raise DeployError(f"{out}: exists (pass --overwrite to replace it)")
    problem = unwritable_reason(out)
    if problem:
        raise DeployError(problem)
    if length is not None and length < 1:
        raise DeployError(f"--length must be >= 1, got {length}")
    model, checkpoint = load_source(source, tracking_uri)
    length = length or training_length(checkpoint, model)
    check_scoring([model.config], CHECK_COLUMNS, length, f"exporting at --length {length}", "lower --length")
    frozen = freeze(model, length, power_of_two=fmt == "onnx")
    x = check_columns(model, length)  # (N, T, 2) complex64
    x_real = torch.view_as_real(x).contiguous()  # (N, T, 2, 2) float32
    with torch.no_grad():
        want = torch.view_as_real(model(x))  # (N, T, 1, 2)
        try:
            atomic_write(out, lambda tmp: _write(fmt, frozen, x_real[:2], tmp), suffix=out.suffix)
        except OSError:  # the disk or the folder refused the file: not the format's fault
            raise
        except Exception as err:
            first = first_line(err)
            others = ", ".join(f for f in FORMATS if f != fmt)
            raise DeployError(
                f"--format {fmt}: cannot express this model ({type(err).__name__}: {first}); use {others}"
            ) from None
        got = run_exported(fmt, out, x_real)
    error = float(np.linalg.norm((got - want).numpy()) / np.linalg.norm(want.numpy()))
    if not error <= TOLERANCE:
        out.unlink()
        raise DeployError(
            f"{out}: the {fmt} export differs from the eager model by {error:.2e} relative (> {TOLERANCE:g}); not kept"
        )
    return {
        "format": fmt,
        "path": str(out),
        "length": length,
        "relative_error": error,
        "check_columns": CHECK_COLUMNS,
        "input": "x (B, T, 2, 2) float32: real view of complex (B, T, 2)",
        "output": "y (B, T, 1, 2) float32: real view of complex (B, T, 1)",
    }
