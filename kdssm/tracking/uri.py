"""Where a sweep's records go: the tracking URI (checked before anything starts) and the provenance tags
every run carries."""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import urlparse


class TrackingError(ValueError):
    """A tracking URI that cannot be used; one line naming it."""


def resolve_uri(uri: str, save_dir: Path) -> str:
    return uri or f"sqlite:///{(Path(save_dir) / 'mlflow.db').resolve()}"


def redact(uri: str) -> str:
    """The URI with any user and password in it replaced by ***, for messages and logs."""
    parsed = urlparse(uri)
    if "@" not in parsed.netloc:
        return uri
    return parsed._replace(netloc="***@" + parsed.netloc.rsplit("@", 1)[1]).geturl()


def check_reachable(uri: str, existing: bool = False, key: str = "tracking.tracking_uri") -> None:
    """A server must answer /health (within 5 s) before anything starts; a sqlite file's folder must exist,
    and with `existing` (a registry that is only read) the file itself, so a lookup never creates one."""
    parsed = urlparse(uri)
    shown = redact(uri)
    if parsed.scheme in ("http", "https"):
        import requests

        try:
            answer = requests.get(uri.rstrip("/") + "/health", timeout=5)
        except requests.RequestException as err:
            reason = type(err).__name__.replace("Error", " error").strip()
            raise TrackingError(f"{key} {shown}: no MLflow server answers ({reason}, 5 s timeout)") from None
        if answer.status_code != 200:
            raise TrackingError(f"{key} {shown}: /health answered HTTP {answer.status_code}")
    elif parsed.scheme == "sqlite":
        database = Path(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)  # sqlite:///rel, ////abs
        if not database.parent.is_dir():
            raise TrackingError(f"{key} {shown}: folder {database.parent} does not exist")
        if existing and not database.is_file():
            raise TrackingError(f"{key} {shown}: no MLflow database at {database}")
    elif parsed.scheme not in ("file", "databricks", ""):
        raise TrackingError(f"{key} {shown}: unsupported scheme {parsed.scheme!r} (http, https, sqlite, file)")


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
