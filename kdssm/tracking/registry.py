"""A registered model's checkpoint: `models:/<name>@<alias>` or `models:/<name>/<version>` resolved through
the MLflow client of a tracking URI to the version's logged model, of which only `artifacts/model.ckpt`
is downloaded."""

from __future__ import annotations

from pathlib import Path

from ..config.search import REGISTRY_PREFIX
from .tracker import quiet_mlflow
from .uri import TrackingError, check_reachable, redact


def download_checkpoint(uri: str, tracking_uri: str, folder: str) -> tuple[Path, str]:
    """(the model.ckpt of the registered version `uri` names, downloaded into folder; "version N of <name>");
    TrackingError (one line naming the URI) for an unreachable server, an unknown name, alias or version,
    a missing file."""
    try:
        check_reachable(tracking_uri, existing=True, key="--tracking_uri")
    except TrackingError as err:
        raise TrackingError(f"{uri}: {err}") from None
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
        raise TrackingError(f"{uri}: no registered model {name!r} at {redact(tracking_uri)}") from None
    try:
        if alias is not None:
            version = client.get_model_version_by_alias(name, alias)
        else:
            version = client.get_model_version(name, ref.rsplit("/", 1)[1])
    except MlflowException:
        known = ", ".join(sorted(model.aliases)) or "none"
        raise TrackingError(f"{uri}: unknown alias or version of {name!r} (aliases: {known})") from None
    if version.source.startswith(REGISTRY_PREFIX):  # an MLflow 3 logged model
        location = client.get_logged_model(version.source[len(REGISTRY_PREFIX) :]).artifact_location
    else:
        location = version.source
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{location}/artifacts/model.ckpt", dst_path=folder, tracking_uri=tracking_uri
        )
    except (MlflowException, OSError) as err:
        raise TrackingError(f"{uri}: version {version.version} has no model.ckpt ({type(err).__name__})") from None
    return Path(local), f"version {version.version} of {name}"
