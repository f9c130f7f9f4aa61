"""The search section (which students, how many, how judged and stopped) and the tracking section (MLflow).

The search space itself (which fields are searchable, their rules, the default space) belongs to the
search layer: `tune/space.py` checks `search.space` before a sweep starts.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, field_validator

from .base import ConfigError, Section


class SearchConfig(Section):
    """The student search: which students, how many, how they are judged and stopped."""

    SECTION = "search"
    num_samples: int = Field(8, ge=1, description="students (trials) to train")
    sampler: Literal["nsga2", "tpe", "random"] = Field(
        "nsga2", description="Optuna sampler: nsga2, tpe (multi-objective TPE) or random"
    )
    accuracy_objective: Literal["accuracy", "nmse_valid_db"] = Field(
        "accuracy", description="quality objective on the validation split: accuracy (max) or nmse_valid_db (min)"
    )
    latency_objective: bool = Field(
        False, description="add the student's cost as a third objective, measured as cost_measure says"
    )
    cost_measure: Literal["latency", "macs"] = Field(
        "latency",
        description="the third objective: latency (CPU, batch 32, through the path kdssm focus runs, timed "
        "beside the production matched filter and kept as their ratio, once per model) or macs "
        "(multiply-accumulates per column counted from the model: exact, the same under any load)",
    )
    latency_length: int = Field(
        0,
        ge=0,
        description="samples of the lines the latency is timed on: 0 the data's columns; a scene's azimuth "
        "length (e.g. 8192) times what focusing such scenes costs, folded where a student folds",
    )
    workers_per_trial: int = Field(1, ge=1, description="Ray Train workers per student (data-parallel)")
    trial_runner: Literal["auto", "ray_train"] = Field(
        "auto",
        description="how a trial trains: auto (a single-worker trial runs Lightning inside its Tune trial, "
        "a multi-worker one a Ray Train run) or ray_train (always Ray Train)",
    )
    max_concurrent_trials: int = Field(0, ge=0, description="students trained at once; 0: as many as the cluster holds")
    early_stopping: Literal["pareto_halving", "moasha", "none"] = Field(
        "pareto_halving",
        description="pareto_halving: stop students that are dominated at a rung "
        "(multi-objective successive halving); moasha: syne-tune's MOASHA decides at the same rungs "
        "(needs syne-tune: pip install 'kdssm[moasha]'); none",
    )
    grace_epochs: int = Field(2, ge=1, description="first rung: epochs every student gets before it can be stopped")
    reduction_factor: int = Field(2, ge=2, description="keep the best 1/reduction_factor at each rung")
    share_teacher: bool = Field(
        True,
        description="teacher outputs and features computed once per sweep and shared "
        "(false: each trial runs the teacher itself; for benchmarks)",
    )
    search_seed: int = Field(0, description="seed of the sampler")
    space: dict | None = Field(
        None,
        description="searched fields: {field: {choices: [...]} or {low, high[, log]}}; "
        "empty: the search layer's default space (tune/space.py)",
    )

    @field_validator("space")
    @classmethod
    def _space(cls, value: dict | None) -> dict | None:
        if value is not None and not value:
            raise ConfigError(
                "search.space: empty; name at least one searchable field (or leave it out for the default space)"
            )
        return value


REGISTRY_PREFIX = "models:/"  # a registered model version: models:/<name>@<alias> or models:/<name>/<version>
REGISTERED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,199}")


def check_tracking_uri(key: str, uri: str) -> None:
    """A tracking URI with a user or password in it is refused: it would be printed, logged and stored."""
    parsed = urlparse(uri)
    if parsed.password is not None or "@" in parsed.netloc:
        raise ConfigError(
            f"{key}: holds credentials; set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD instead (the URI is written into configs and MLflow)"
        )


class TrackingConfig(Section):
    """Where MLflow records the sweep, and what goes into the Model Registry."""

    SECTION = "tracking"
    tracking_uri: str = Field(
        "", description="MLflow tracking URI (http://host:port for a server); empty: sqlite:///<save_dir>/mlflow.db"
    )
    experiment: str = Field("", description="MLflow experiment name; empty: kdssm-<save_dir folder name>")
    register_front: bool = Field(True, description="register every Pareto-front student in the Model Registry")
    registered_model: str = Field("", description="Model Registry name; empty: <experiment>-students")

    def check(self) -> None:
        check_tracking_uri("tracking.tracking_uri", self.tracking_uri)
        if self.registered_model and not REGISTERED_NAME.fullmatch(self.registered_model):
            raise ConfigError(
                f"tracking.registered_model: {self.registered_model!r} is not a Model Registry name (letters, "
                "digits, '.', '_', '-' and spaces, starting with a letter or digit, at most 200 characters)"
            )
