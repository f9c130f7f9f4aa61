"""A sweep's folder: what it holds, and claiming it (a resume only with the same config and teacher)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from kdssm.config import RunConfig
from kdssm.train import folder_lock, rundir

from . import pareto
from .records import HYPERVOLUME_JSON, HYPERVOLUME_PNG
from .results import LATENCY, REFERENCE, SWEEP_CONFIG, TRIALS
from .study import OPTUNA_DB

TUNE, RUNGS = "tune", "rungs.json"
TEACHER_RECORD = "teacher.json"
CREATED = (
    SWEEP_CONFIG,
    TEACHER_RECORD,
    TRIALS,
    TUNE,
    OPTUNA_DB,
    RUNGS,
    REFERENCE,
    LATENCY,
    "teacher_cache",
    pareto.PARETO_JSON,
    pareto.PARETO_PNG,
    HYPERVOLUME_PNG,
    HYPERVOLUME_JSON,
    "comparison.md",
    "registry.json",
    "search_space.json",
)


def prepare_folder(save_dir: Path, cfg: RunConfig, teacher_sha: str, overwrite: bool, teacher: Path) -> None:
    """Make save_dir ready and hold it (folder_lock); an interrupted sweep resumes only with the same
    config and teacher. A folder holding the teacher's checkpoint or the columns is refused."""
    rundir.claim(save_dir, [teacher, *rundir.data_files(cfg)])  # released by run_sweep when the sweep ends
    with folder_lock.released_on_error(save_dir):
        _resume_or_start(save_dir, cfg, teacher_sha, overwrite)


def _resume_or_start(save_dir: Path, cfg: RunConfig, teacher_sha: str, overwrite: bool) -> None:
    if overwrite:
        for name in CREATED:
            target = save_dir / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    stored, record = save_dir / SWEEP_CONFIG, save_dir / TEACHER_RECORD
    if stored.is_file():
        diff = rundir.first_difference(yaml.safe_load(stored.read_text()) or {}, cfg.to_dict())
        if diff:
            raise rundir.RunDirError(
                f"{save_dir}: holds a sweep with another config ({diff}); use another --save_dir or --overwrite"
            )
        if record.is_file() and json.loads(record.read_text()).get("sha256") != teacher_sha:
            raise rundir.RunDirError(
                f"{save_dir}: holds a sweep of another teacher; use another --save_dir or --overwrite"
            )
        return
    rundir.write_json(record, {"sha256": teacher_sha})
    cfg.dump(stored)
