"""MLflow records of a sweep: one experiment, a parent run, a run for the teacher, a child run per trial,
and the Pareto-front students in the Model Registry as pyfunc models that load back into kdssm models.

Every write goes through an explicit MlflowClient and run id (MLflow's client API only: no global
tracking URI, no active run), from the sweep driver only, so concurrent trials never write to a sqlite
store at once. Runs are found again by tag on a resumed sweep instead of being duplicated.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlparse

from mlflow.entities import Metric, Param, RunStatus
from mlflow.tracking import MlflowClient

from ..files import MODEL_FILE
from .pyfunc import save_pyfunc
from .uri import check_reachable, provenance
from .values import scalar_metrics, tag_value

ROLE, SWEEP_DIR, TRIAL_ID = "kdssm.role", "kdssm.sweep_dir", "kdssm.trial_id"
PARENT = "mlflow.parentRunId"
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")  # the UI opens on runs, not GenAI


# MLflow's HTTP client retries 7 times with exponential backoff and waits 120 s per request: a dead
# server held the sweep driver (and so every trial) for minutes. Our records queue and retry themselves
# (tune/callbacks.py), so one short try is enough; a user's own settings win.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
# MLflow error codes that mean the server answered and refused the request: an error, never an outage
REJECTIONS = {
    "INVALID_PARAMETER_VALUE",
    "BAD_REQUEST",
    "RESOURCE_ALREADY_EXISTS",
    "RESOURCE_DOES_NOT_EXIST",
    "INVALID_STATE",
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
    "FEATURE_DISABLED",
}


def quiet_mlflow() -> None:
    """MLflow's INFO/WARNING lines (a store created, a model logged) and artifact progress bars off; its
    HTTP client bounded (HTTP_DEFAULTS)."""
    import logging
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    logging.getLogger("mlflow").setLevel(logging.ERROR)


def is_outage(err: BaseException) -> bool:
    """Whether a failed MLflow call means the server is away (worth waiting for), not that it refused
    the request (a bad name, a missing entity) or that our code is wrong."""
    from mlflow.exceptions import MlflowException

    if isinstance(err, MlflowException):
        return err.error_code not in REJECTIONS
    return isinstance(err, OSError)  # connection refused or reset, timeouts (requests' errors are OSErrors)


def find_or_create_experiment(client: MlflowClient, name: str, local_artifacts: Path) -> str:
    """The id of experiment `name`, created where missing (its artifacts in `local_artifacts` when the
    tracking URI is a local store, the server's own location otherwise) and tagged with EXPERIMENT_KIND."""
    found = client.get_experiment_by_name(name)
    if found is None:
        local = urlparse(client.tracking_uri).scheme in ("sqlite", "file", "")
        location = Path(local_artifacts).resolve().as_uri() if local else None
        return client.create_experiment(name, artifact_location=location, tags=dict([EXPERIMENT_KIND]))
    if found.tags.get(EXPERIMENT_KIND[0]) is None:
        client.set_experiment_tag(found.experiment_id, *EXPERIMENT_KIND)
    return found.experiment_id


class SweepTracker:
    """Find-or-create writes of a sweep's runs, models and registry entries through one MlflowClient."""

    def __init__(self, uri: str, experiment: str, sweep_dir: Path):
        quiet_mlflow()
        self.uri = uri
        self.sweep_dir = Path(sweep_dir).resolve()
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.experiment_id = find_or_create_experiment(self.client, experiment, self.sweep_dir / "mlartifacts")
        self.experiment = experiment
        self.parent_id = self._find_or_create(
            "sweep",
            {ROLE: "sweep", SWEEP_DIR: str(self.sweep_dir)},
            f"tags.`{ROLE}` = 'sweep' and tags.`{SWEEP_DIR}` = '{self.sweep_dir}'",
        )

    def _find_or_create(self, name: str, tags: dict, query: str, start_time: int | None = None) -> str:
        runs = self.client.search_runs([self.experiment_id], query, max_results=1, order_by=["start_time ASC"])
        if runs:
            return runs[0].info.run_id
        tags = {**provenance(), **tags}
        return self.client.create_run(self.experiment_id, start_time, tags, run_name=name).info.run_id

    def _child(self, name: str, role: str, extra: dict | None = None, start_time: int | None = None) -> str:
        tags = {ROLE: role, PARENT: self.parent_id, **(extra or {})}
        query = f"tags.`{PARENT}` = '{self.parent_id}' and tags.`{ROLE}` = '{role}'"
        if extra:
            query += "".join(f" and tags.`{k}` = '{v}'" for k, v in extra.items())
        return self._find_or_create(name, tags, query, start_time)

    def rename(self, run_id: str, name: str) -> None:
        self.set_tag(run_id, "mlflow.runName", name)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.client.set_tag(run_id, key, value)

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

    def teacher(
        self,
        name: str,
        params: dict,
        metrics: dict[str, float],
        curves: list[tuple[int, dict[str, float]]],
        datasets: list[dict],
        files: list[Path],
        times: tuple[int | None, int | None] = (None, None),
    ) -> str:
        """The teacher's run: its config, figures, per-epoch curves (epoch, figures), the columns it was
        trained on and its files; times: (start, end) of its training in ms, shown as the run's duration."""
        start, end = times
        run_id = self._child(name, "teacher", start_time=start)
        if self.client.get_run(run_id).info.status == "FINISHED":  # recorded by an earlier run of the sweep
            return run_id
        self.log_params(run_id, params)
        if curves and self.last_step(run_id, next(iter(curves[0][1]))) == 0:  # a retried record draws them once
            for step, figures in curves:
                self.log_metrics(run_id, figures, step=step)
        self.log_new_metrics(run_id, metrics)
        self.log_datasets(run_id, datasets)
        self.log_files(run_id, files)
        self.client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED), end_time=end)
        return run_id

    def trial(self, trial_id: str, params: dict, name: str | None = None) -> str:
        run_id = self._child(name or trial_id, "trial", {TRIAL_ID: trial_id})
        self.log_params(run_id, params)
        return run_id

    def finish_trial(
        self, run_id: str, trial_dir: Path, metrics: dict | None, stopped: bool, name: str | None = None
    ) -> None:
        """metrics: the run's summary figures (None: the trial failed); name: what the run is (role and shape)."""
        if self.client.get_run(run_id).info.status == "FINISHED":  # reported again by a resumed sweep
            return
        if name:
            self.rename(run_id, name)
        if metrics is not None:
            self.log_new_metrics(run_id, metrics)
            self.log_files(
                run_id,
                [
                    trial_dir / "summary.json",
                    trial_dir / "config.yaml",
                    trial_dir / "history.jsonl",
                    trial_dir / MODEL_FILE,
                ],
            )
        self.client.set_tag(run_id, "kdssm.stopped_early", str(stopped).lower())
        status = RunStatus.FINISHED if metrics is not None else RunStatus.FAILED
        self.client.set_terminated(run_id, RunStatus.to_string(status))

    def finish_sweep(self, params: dict, metrics: dict[str, float], files: list[Path]) -> None:
        self.log_params(self.parent_id, params)
        self.log_new_metrics(self.parent_id, metrics)
        self.log_files(self.parent_id, files)
        self.client.set_terminated(self.parent_id, RunStatus.to_string(RunStatus.FINISHED))

    def log_model(self, run_id: str, checkpoint: Path, metrics: dict, artifact: str = "student") -> str:
        """Log the checkpoint as a pyfunc model of its run (MLflow's Model column) named `artifact`, with
        metrics (the run's own summary figures, so the run gains no metric) on the logged model, where MLflow's
        UI sorts models; returns the model URI. A model already logged from this run under this name is
        reused (a resumed sweep logs nothing twice)."""
        for logged in self.client.search_logged_models(
            [self.experiment_id], filter_string=f"source_run_id = '{run_id}' AND name = '{artifact}'"
        ):
            return f"models:/{logged.model_id}"
        import tempfile

        from mlflow.entities import LoggedModelOutput, LoggedModelStatus
        from mlflow.models import Model

        quiet_mlflow()
        logged = self.client.create_logged_model(
            self.experiment_id, name=artifact, source_run_id=run_id, model_type="kdssm"
        )
        self.client.log_outputs(run_id, models=[LoggedModelOutput(logged.model_id, step=0)])
        description = Model(
            artifact_path=logged.artifact_location, model_uuid=logged.model_id, run_id=run_id, model_id=logged.model_id
        )
        with tempfile.TemporaryDirectory() as tmp:
            save_pyfunc(Path(tmp) / "model", checkpoint, description)
            self.client.log_model_artifacts(logged.model_id, str(Path(tmp) / "model"))
        self.client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
        now = int(time.time() * 1000)
        for key, value in scalar_metrics(metrics).items():
            self.client.log_metric(run_id, key, value, timestamp=now, step=0, model_id=logged.model_id)
        return f"models:/{logged.model_id}"

    def register(
        self, name: str, run_id: str, checkpoint: Path, metrics: dict, tags: dict, artifact: str = "student"
    ) -> str:
        """Log the model (log_model, with the run's metrics) and register it with tags (numbers at 4
        significant digits); the logged model names its version. Returns the version; a version already
        registered from this run is reused (a resumed sweep registers nothing twice)."""
        for version in self.client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'"):
            return version.version
        from mlflow.exceptions import MlflowException
        from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

        source = self.log_model(run_id, checkpoint, metrics, artifact)
        try:
            self.client.create_registered_model(name)
        except MlflowException as err:
            if err.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        # the logged model's own artifact location, not models:/<id>: MLflow's registry store resolves the latter
        # through the global tracking URI, which this client never sets
        logged = self.client.get_logged_model(source.removeprefix("models:/"))
        version = self.client.create_model_version(
            name, logged.artifact_location, run_id=run_id, model_id=logged.model_id
        ).version
        for key, value in tags.items():
            self.client.set_model_version_tag(name, version, key, tag_value(value))
        # what MLflow's own registration sets: the logged model's "Registered models" column names the version
        self.client.set_logged_model_tags(
            logged.model_id, {MLFLOW_MODEL_VERSIONS: json.dumps([{"name": name, "version": version}])}
        )
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
