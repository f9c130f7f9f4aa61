"""Where a model to deploy comes from: a run folder, a model.ckpt, or a registry URI.

`models:/<name>@<alias>` and `models:/<name>/<version>` are downloaded by the tracking layer
(tracking/registry.py) from `tracking_uri` (the sweep writes `registry.json` naming it).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from ..checkpoint import CheckpointError, load_model
from ..config.search import REGISTRY_PREFIX
from ..files import model_file
from .errors import DeployError


class SourceError(DeployError):
    """A model source that cannot be resolved; one line naming it."""


def checkpoint_path(source: str, tracking_uri: str | None = None, cache_dir: str | None = None) -> Path:
    """The local model.ckpt a source names (downloaded into `cache_dir` or a temporary folder for a registry URI)."""
    if source.startswith(REGISTRY_PREFIX):
        return _download(source, tracking_uri, cache_dir)
    path = model_file(source)
    if not path.is_file():
        raise SourceError(f"{source}: no model.ckpt there (give a run folder, a model.ckpt or models:/<name>@<alias>)")
    return path


def _download(uri: str, tracking_uri: str | None, cache_dir: str | None) -> Path:
    if not tracking_uri:
        raise SourceError(f"{uri}: a registry URI needs --tracking_uri (the sweep's registry.json names it)")
    from ..config.search import check_tracking_uri
    from ..tracking.registry import download_checkpoint
    from ..tracking.uri import TrackingError

    check_tracking_uri("--tracking_uri", tracking_uri)
    try:
        path, version = download_checkpoint(uri, tracking_uri, cache_dir or _temporary_folder())
    except TrackingError as err:
        raise SourceError(str(err)) from None
    print(f"{uri}: {version}", flush=True)  # which model an alias meant today
    return path


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
