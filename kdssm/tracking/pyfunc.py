"""A kdssm checkpoint as an MLflow pyfunc model: its signature (real views, MLflow has no complex dtype),
the wrapper that loads it back, and the model folder MLflow stores."""

from __future__ import annotations

import warnings
from pathlib import Path

import mlflow
import numpy as np
import torch

SIGNATURE = None  # built on first use (mlflow.models imports are slow)


def signature():
    """Any number of columns of any length: input float32 (B, L, 4), output float32 (B, L, 2)."""
    global SIGNATURE
    if SIGNATURE is None:
        from mlflow.models import ModelSignature
        from mlflow.types import Schema, TensorSpec

        SIGNATURE = ModelSignature(
            inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, -1, 4))]),
            outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, -1, 2))]),
        )
    return SIGNATURE


class StudentModel(mlflow.pyfunc.PythonModel):
    """A kdssm checkpoint as an MLflow pyfunc model.

    MLflow schemas have no complex dtype, so columns travel as real views:
    input float32 (B, L, 4) = [x0.real, x0.imag, x1.real, x1.imag], output float32 (B, L, 2) =
    [y.real, y.imag]. `unwrap_python_model().model` is the kdssm model itself.
    """

    def load_context(self, context) -> None:
        from kdssm.checkpoint import load_model

        self.model = load_model(context.artifacts["checkpoint"])

    def predict(self, context, model_input: np.ndarray, params=None) -> np.ndarray:
        x = torch.view_as_complex(
            torch.as_tensor(np.asarray(model_input, dtype=np.float32))
            .reshape(*np.shape(model_input)[:2], 2, 2)
            .contiguous()
        )  # (B, L, 2) complex64
        from kdssm.inference import infer

        y = infer(self.model, x)  # (B, L, 1) complex64: the inference implementation
        return torch.view_as_real(y).reshape(*y.shape[:2], 2).numpy()


def to_pyfunc_input(x: torch.Tensor) -> np.ndarray:
    """(B, L, 2) complex64 -> (B, L, 4) float32, the registered model's input."""
    return torch.view_as_real(x).reshape(*x.shape[:2], 4).numpy()


def save_pyfunc(folder: Path, checkpoint: Path, mlflow_model) -> None:
    """The pyfunc model folder of a checkpoint (MLmodel, the checkpoint, kdssm's code, requirements)."""
    import kdssm

    with warnings.catch_warnings():  # the signature is given (any number and length of columns): no example
        warnings.filterwarnings("ignore", message=".*An input example was not provided")  # ANSI-coloured
        mlflow.pyfunc.save_model(
            path=str(folder),
            python_model=StudentModel(),
            artifacts={"checkpoint": str(checkpoint)},
            code_paths=[str(Path(kdssm.__file__).parent)],
            signature=signature(),
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "numpy", "pyyaml"],
            mlflow_model=mlflow_model,
        )
