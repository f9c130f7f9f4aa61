"""MLflow records of a sweep: one experiment, a parent run, a run for the teacher, a child run per trial,
and the Pareto-front students in the Model Registry as pyfunc models that load back into kdssm models.

Every write goes through an explicit MlflowClient and run id (no global active run), from the sweep
driver only, so concurrent trials never write to a sqlite store at once. Runs are found again by tag
on a resumed sweep instead of being duplicated.
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import numpy as np
import torch
from mlflow.entities import Metric, Param, RunStatus
from mlflow.tracking import MlflowClient

ROLE, SWEEP_DIR, TRIAL_ID = "kdssm.role", "kdssm.sweep_dir", "kdssm.trial_id"
PARENT = "mlflow.parentRunId"
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")  # the UI opens on runs, not GenAI


@functools.cache
def provenance() -> dict[str, str]:
    """Tags that say where a run came from: command line, user, kdssm version and git commit (when the
    code is a git checkout); MLflow's runs table shows mlflow.source.name as Source."""
    import getpass
    import subprocess
    import sys

    import kdssm

    tags = {
        "mlflow.source.name": "kdssm " + " ".join(sys.argv[1:])[:200] if sys.argv[1:] else "kdssm",
        "mlflow.source.type": "LOCAL",
        "mlflow.user": getpass.getuser(),
        "kdssm.version": kdssm.__version__,
        "kdssm.command": " ".join(sys.argv)[:500],
    }
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(kdssm.__file__).parent, capture_output=True, text=True, timeout=5
        )
        if commit.returncode == 0:
            tags["mlflow.source.git.commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return tags


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


def dataset_record(name: str, digest: str, source: dict | str, columns: int, length: int, labelled: bool) -> dict:
    """What MLflow's Dataset column shows of a split: a plain dict (picklable into Tune callbacks).
    source: the simulator's settings (a dict) or the .npz file's path."""
    local = isinstance(source, str)
    return {
        "name": name,
        "digest": digest[:36],
        "source_type": "local" if local else "code",
        "source": Path(source).resolve().as_uri() if local else json.dumps(source, sort_keys=True),
        "profile": json.dumps({"columns": columns, "length": length, "labelled": labelled}),
    }


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
            self.experiment_id = self.client.create_experiment(
                experiment, artifact_location=location, tags=dict([EXPERIMENT_KIND])
            )
        else:
            self.experiment_id = found.experiment_id
            if found.tags.get(EXPERIMENT_KIND[0]) is None:
                self.client.set_experiment_tag(self.experiment_id, *EXPERIMENT_KIND)
        self.experiment = experiment
        self.parent_id = self._find_or_create(
            "sweep",
            {ROLE: "sweep", SWEEP_DIR: str(self.sweep_dir)},
            f"tags.`{ROLE}` = 'sweep' and tags.`{SWEEP_DIR}` = '{self.sweep_dir}'",
        )

    def _find_or_create(self, name: str, tags: dict, query: str) -> str:
        runs = self.client.search_runs([self.experiment_id], query, max_results=1, order_by=["start_time ASC"])
        if runs:
            return runs[0].info.run_id
        return self.client.create_run(self.experiment_id, run_name=name, tags={**provenance(), **tags}).info.run_id

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
            self.client.log_batch(run_id, params=fresh[start : start + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        for start in range(0, len(batch), 500):
            self.client.log_batch(run_id, metrics=batch[start : start + 500])

    def log_new_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        """log_metrics of a run's final figures without repeats: a metric the run already has is kept as
        first logged (a resumed or re-run sweep logs nothing twice)."""
        logged = self.client.get_run(run_id).data.metrics
        self.log_metrics(run_id, {k: v for k, v in metrics.items() if k not in logged})

    def last_step(self, run_id: str, key: str) -> int:
        """The highest step logged for key (0: none): epoch curves continue after it on a resume."""
        return max((m.step for m in self.client.get_metric_history(run_id, key)), default=0)

    def log_datasets(self, run_id: str, records: list[dict]) -> None:
        """The columns a run used, as MLflow datasets with their split as context (once per run)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        if not records or self.client.get_run(run_id).inputs.dataset_inputs:
            return
        inputs = [
            DatasetInput(
                Dataset(**{k: v for k, v in r.items() if k != "context"}),
                [InputTag("mlflow.data.context", r["context"])],
            )
            for r in records
        ]
        self.client.log_inputs(run_id, datasets=inputs)

    def log_table(self, run_id: str, rows: list[dict], artifact_file: str) -> None:
        """rows as an MLflow table (the UI's artifact view sorts and filters its columns)."""
        columns = list(dict.fromkeys(k for row in rows for k in row))
        self.client.log_table(run_id, {c: [row.get(c) for row in rows] for c in columns}, artifact_file)

    def log_files(self, run_id: str, paths: list[Path], folder: str | None = None) -> None:
        for path in paths:
            if Path(path).is_file():
                self.client.log_artifact(run_id, str(path), folder)

    def teacher(self, teacher_dir: Path, summary: dict, config: dict) -> str:
        run_id = self._child("teacher", "teacher")
        self.log_params(run_id, flat("", config))
        self.log_new_metrics(run_id, scalar_metrics({k: v for k, v in summary.items() if k != "model"}))
        self.log_files(run_id, [teacher_dir / "summary.json", teacher_dir / "config.yaml", teacher_dir / "model.ckpt"])
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
        return run_id

    def trial(self, trial_id: str, params: dict) -> str:
        run_id = self._child(trial_id, "trial", {TRIAL_ID: trial_id})
        self.log_params(run_id, params)
        return run_id

    def finish_trial(self, run_id: str, trial_dir: Path, summary: dict | None, stopped: bool) -> None:
        if self.client.get_run(run_id).info.status == "FINISHED":  # reported again by a resumed sweep
            return
        if summary is not None:
            self.log_new_metrics(run_id, scalar_metrics({k: v for k, v in summary.items() if k != "model"}))
            self.log_files(
                run_id,
                [
                    trial_dir / "summary.json",
                    trial_dir / "config.yaml",
                    trial_dir / "history.jsonl",
                    trial_dir / "model.ckpt",
                ],
            )
        self.client.set_tag(run_id, "kdssm.stopped_early", str(stopped).lower())
        status = RunStatus.FINISHED if summary else RunStatus.FAILED
        self.client.set_terminated(run_id, RunStatus.to_string(status))

    def finish_sweep(self, params: dict, metrics: dict[str, float], files: list[Path]) -> None:
        self.log_params(self.parent_id, params)
        self.log_new_metrics(self.parent_id, metrics)
        self.log_files(self.parent_id, files)
        self.client.set_terminated(self.parent_id, RunStatus.to_string(RunStatus.FINISHED))

    def log_model(self, run_id: str, checkpoint: Path, metrics: dict, artifact: str = "student") -> str:
        """Log the checkpoint as a pyfunc model in its run, its metrics on the logged model as model.<name>
        (where MLflow's UI sorts them); returns the model URI. A model already logged from this run under
        this name is reused (a resumed sweep logs nothing twice)."""
        for logged in self.client.search_logged_models(
            [self.experiment_id], filter_string=f"source_run_id = '{run_id}' AND name = '{artifact}'"
        ):
            return f"models:/{logged.model_id}"
        import logging
        import os

        import kdssm

        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        logging.getLogger("mlflow").setLevel(logging.ERROR)  # its INFO/WARNING lines on every logged model
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")  # the signature says it
            info = mlflow.pyfunc.log_model(
                name=artifact,
                python_model=StudentModel(),
                artifacts={"checkpoint": str(checkpoint)},
                code_paths=[str(Path(kdssm.__file__).parent)],
                signature=signature(),
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "numpy", "pyyaml"],
            )
        now = int(time.time() * 1000)
        for key, value in scalar_metrics(metrics, "model.").items():  # prefixed: the run's own curves stay as they are
            self.client.log_metric(run_id, key, value, timestamp=now, step=0, model_id=info.model_id)
        return info.model_uri

    def register(self, name: str, run_id: str, checkpoint: Path, metrics: dict, artifact: str = "student") -> str:
        """Log the model (log_model) and register it; returns the version. A version already registered
        from this run is reused (a resumed sweep registers nothing twice)."""
        for version in self.client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'"):
            return version.version
        import logging

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        version = mlflow.register_model(self.log_model(run_id, checkpoint, metrics, artifact), name).version
        for key, value in metrics.items():
            self.client.set_model_version_tag(name, version, key, json.dumps(value))
        return version

    def alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)


def end_sweep_run(uri: str, experiment: str, sweep_dir: Path, status: str) -> None:
    """Mark a crashed (FAILED) or interrupted (KILLED) sweep's parent run, if it has one, so it does not
    stay RUNNING; best effort (the tracking server may be what failed)."""
    try:
        check_reachable(uri)  # a server that is down is not retried for minutes here
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return
        query = f"tags.`{ROLE}` = 'sweep' and tags.`{SWEEP_DIR}` = '{Path(sweep_dir).resolve()}'"
        for run in client.search_runs([found.experiment_id], query, max_results=1):
            if run.info.status == "RUNNING":
                client.set_terminated(run.info.run_id, status)
    except Exception:
        pass
