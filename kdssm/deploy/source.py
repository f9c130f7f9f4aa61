"""Where a model to deploy comes from: a run folder, a model.ckpt, or a registry URI.

`models:/<name>@<alias>` and `models:/<name>/<version>` resolve through the MLflow client of
`tracking_uri` (the sweep writes `registry.json` naming it) to the registered version's logged
model, of which only `artifacts/model.ckpt` is downloaded.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from ..checkpoint import CheckpointError, load_model
from .errors import DeployError

REGISTRY_PREFIX = "models:/"


class SourceError(DeployError):
    """A model source that cannot be resolved; one line naming it."""


def checkpoint_path(source: str, tracking_uri: str | None = None, cache_dir: str | None = None) -> Path:
    """The local model.ckpt a source names (downloaded into `cache_dir` or a temporary folder for a registry URI)."""
    if source.startswith(REGISTRY_PREFIX):
        return _download(source, tracking_uri, cache_dir)
    path = Path(source)
    if path.is_dir():
        path = path / "model.ckpt"
    if not path.is_file():
        raise SourceError(f"{source}: no model.ckpt there (give a run folder, a model.ckpt or models:/<name>@<alias>)")
    return path


def _download(uri: str, tracking_uri: str | None, cache_dir: str | None) -> Path:
    if not tracking_uri:
        raise SourceError(f"{uri}: a registry URI needs --tracking_uri (the sweep's registry.json names it)")
    from ..config.search import check_tracking_uri
    from ..tracking.uri import TrackingError, check_reachable, redact

    check_tracking_uri("--tracking_uri", tracking_uri)
    try:
        check_reachable(tracking_uri, existing=True, key="--tracking_uri")
    except TrackingError as err:
        raise SourceError(f"{uri}: {err}") from None
    from ..tracking.tracker import quiet_mlflow

    quiet_mlflow()  # no INFO lines or progress bars; MLflow's HTTP client bounded
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    ref = uri[len(REGISTRY_PREFIX) :]
    name, alias = ref.split("@", 1) if "@" in ref else (ref.rsplit("/", 1)[0], None)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        model = client.get_registered_model(name)
    except MlflowException:
        raise SourceError(f"{uri}: no registered model {name!r} at {redact(tracking_uri)}") from None
    try:
        if alias is not None:
            version = client.get_model_version_by_alias(name, alias)
        else:
            version = client.get_model_version(name, ref.rsplit("/", 1)[1])
    except MlflowException:
        known = ", ".join(sorted(model.aliases)) or "none"
        raise SourceError(f"{uri}: unknown alias or version of {name!r} (aliases: {known})") from None
    if version.source.startswith(REGISTRY_PREFIX):  # an MLflow 3 logged model
        location = client.get_logged_model(version.source[len(REGISTRY_PREFIX) :]).artifact_location
    else:
        location = version.source
    folder = cache_dir or _temporary_folder()
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{location}/artifacts/model.ckpt", dst_path=folder, tracking_uri=tracking_uri
        )
    except (MlflowException, OSError) as err:
        raise SourceError(f"{uri}: version {version.version} has no model.ckpt ({type(err).__name__})") from None
    return Path(local)


def _temporary_folder() -> str:
    """A folder for a downloaded checkpoint, removed when this process exits."""
    folder = tempfile.mkdtemp(prefix="kdssm-model-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def load_source(source: str, tracking_uri: str | None = None, device: str = "cpu"):
    """(model in eval mode, its model.ckpt path) for a run folder, checkpoint or registry URI."""
    path = checkpoint_path(source, tracking_uri)
    try:
        return load_model(path, device=device), path
    except CheckpointError as err:
        raise SourceError(str(err)) from None
