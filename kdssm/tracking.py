"""MLflow records of a sweep: one experiment, a parent run, a run for the teacher, a child run per trial,
and the Pareto-front students in the Model Registry as pyfunc models that load back into kdssm models.

Every write goes through an explicit MlflowClient and run id (no global active run), from the sweep
driver only, so concurrent trials never write to a sqlite store at once. Runs are found again by tag
on a resumed sweep instead of being duplicated.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import numpy as np
import torch
from mlflow.entities import Metric, Param, RunStatus
from mlflow.tracking import MlflowClient

ROLE, SWEEP_DIR, TRIAL_ID = "kdssm.role", "kdssm.sweep_dir", "kdssm.trial_id"
PARENT = "mlflow.parentRunId"


class TrackingError(ValueError):
    """A tracking URI that cannot be used; one line naming it."""


def resolve_uri(uri: str, save_dir: Path) -> str:
    return uri or f"sqlite:///{(Path(save_dir) / 'mlflow.db').resolve()}"


def check_reachable(uri: str) -> None:
    """A server must answer /health before any trial starts; a sqlite file's folder must be writable."""
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        import requests
        try:
            answer = requests.get(uri.rstrip("/") + "/health", timeout=5)
        except requests.RequestException as err:
            reason = type(err).__name__.replace("Error", " error").strip()
            raise TrackingError(f"tracking.tracking_uri {uri}: no MLflow server answers ({reason})") from None
        if answer.status_code != 200:
            raise TrackingError(f"tracking.tracking_uri {uri}: /health answered HTTP {answer.status_code}")
    elif parsed.scheme == "sqlite":
        folder = Path(parsed.path).parent
        if not folder.is_dir():
            raise TrackingError(f"tracking.tracking_uri {uri}: folder {folder} does not exist")
    elif parsed.scheme not in ("file", "databricks", ""):
        raise TrackingError(f"tracking.tracking_uri {uri}: unsupported scheme {parsed.scheme!r}")


def flat(prefix: str, data: dict) -> dict[str, object]:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flat(f"{prefix}{key}.", value))
        else:
            out[f"{prefix}{key}"] = value
    return out


def scalar_metrics(summary: dict, prefix: str = "") -> dict[str, float]:
    """The numbers of a summary.json (teacher and matched-filter figures prefixed)."""
    out = {}
    for key, value in flat(prefix, summary).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
            out[key] = float(value)
    return out


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
        x = torch.view_as_complex(torch.as_tensor(np.asarray(model_input, dtype=np.float32))
                                  .reshape(*np.shape(model_input)[:2], 2, 2).contiguous())  # (B, L, 2) complex64
        with torch.no_grad():
            y = self.model(x)  # (B, L, 1) complex64
        return torch.view_as_real(y).reshape(*y.shape[:2], 2).numpy()


def to_pyfunc_input(x: torch.Tensor) -> np.ndarray:
    """(B, L, 2) complex64 -> (B, L, 4) float32, the registered model's input."""
    return torch.view_as_real(x).reshape(*x.shape[:2], 4).numpy()


class SweepTracker:
    def __init__(self, uri: str, experiment: str, sweep_dir: Path):
        import logging
        logging.getLogger("mlflow").setLevel(logging.WARNING)  # no INFO lines on creating a store
        self.uri = uri
        self.sweep_dir = Path(sweep_dir).resolve()
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            local = urlparse(uri).scheme in ("sqlite", "file", "")
            location = (self.sweep_dir / "mlartifacts").as_uri() if local else None
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
        else:
            self.experiment_id = found.experiment_id
        self.experiment = experiment
        self.parent_id = self._find_or_create("sweep", {ROLE: "sweep", SWEEP_DIR: str(self.sweep_dir)},
                                              f"tags.`{ROLE}` = 'sweep' and tags.`{SWEEP_DIR}` = '{self.sweep_dir}'")

    def _find_or_create(self, name: str, tags: dict, query: str) -> str:
        runs = self.client.search_runs([self.experiment_id], query, max_results=1, order_by=["start_time ASC"])
        if runs:
            return runs[0].info.run_id
        return self.client.create_run(self.experiment_id, run_name=name, tags=tags).info.run_id

    def _child(self, name: str, role: str, extra: dict | None = None) -> str:
        tags = {ROLE: role, PARENT: self.parent_id, **(extra or {})}
        query = f"tags.`{PARENT}` = '{self.parent_id}' and tags.`{ROLE}` = '{role}'"
        if extra:
            query += "".join(f" and tags.`{k}` = '{v}'" for k, v in extra.items())
        return self._find_or_create(name, tags, query)

    def log_params(self, run_id: str, params: dict) -> None:
        logged = self.client.get_run(run_id).data.params
        fresh = [Param(k, str(v)[:6000]) for k, v in params.items() if k not in logged]
        for start in range(0, len(fresh), 100):
            self.client.log_batch(run_id, params=fresh[start:start + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for start in range(0, len(batch), 500):
            self.client.log_batch(run_id, metrics=batch[start:start + 500])

    def log_files(self, run_id: str, paths: list[Path], folder: str | None = None) -> None:
        for path in paths:
            if Path(path).is_file():
                self.client.log_artifact(run_id, str(path), folder)

    def teacher(self, teacher_dir: Path, summary: dict, config: dict) -> str:
        run_id = self._child("teacher", "teacher")
        self.log_params(run_id, flat("", config))
        self.log_metrics(run_id, scalar_metrics({k: v for k, v in summary.items() if k != "model"}))
        self.log_files(run_id, [teacher_dir / "summary.json", teacher_dir / "config.yaml", teacher_dir / "model.ckpt"])
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
        return run_id

    def trial(self, trial_id: str, params: dict) -> str:
        run_id = self._child(trial_id, "trial", {TRIAL_ID: trial_id})
        self.log_params(run_id, params)
        return run_id

    def finish_trial(self, run_id: str, trial_dir: Path, summary: dict | None, stopped: bool) -> None:
        if summary is not None:
            self.log_metrics(run_id, scalar_metrics({k: v for k, v in summary.items() if k != "model"}))
            self.log_files(run_id, [trial_dir / "summary.json", trial_dir / "config.yaml",
                                    trial_dir / "history.jsonl", trial_dir / "model.ckpt"])
        self.client.set_tag(run_id, "kdssm.stopped_early", str(stopped).lower())
        status = RunStatus.FINISHED if summary else RunStatus.FAILED
        self.client.set_terminated(run_id, RunStatus.to_string(status))

    def finish_sweep(self, params: dict, metrics: dict[str, float], files: list[Path]) -> None:
        self.log_params(self.parent_id, params)
        self.log_metrics(self.parent_id, metrics)
        self.log_files(self.parent_id, files)
        self.client.set_terminated(self.parent_id, RunStatus.to_string(RunStatus.FINISHED))

    def register(self, name: str, run_id: str, checkpoint: Path, metrics: dict, length: int) -> str:
        """Log the student as a pyfunc model in its run and register it; returns the version.

        A version already registered from this run is reused (a resumed sweep registers nothing twice).
        """
        for version in self.client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'"):
            return version.version
        import logging
        import os

        import kdssm
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        logging.getLogger("mlflow").setLevel(logging.ERROR)  # its INFO/WARNING lines on every logged model
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(
                name="student", python_model=StudentModel(), artifacts={"checkpoint": str(checkpoint)},
                code_paths=[str(Path(kdssm.__file__).parent)],
                input_example=np.zeros((1, length, 4), dtype=np.float32),
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "numpy", "pyyaml"])
        version = mlflow.register_model(info.model_uri, name).version
        for key, value in metrics.items():
            self.client.set_model_version_tag(name, version, key, json.dumps(value))
        return version

    def alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)
