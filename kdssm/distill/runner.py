"""`kdssm distill`: a frozen teacher checkpoint into a student run directory."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from ..checkpoint import load_model
from ..config import ConfigError, ModelConfig, RunConfig
from ..data.datasets import load_split
from ..models import build_model
from ..train import rundir
from ..train.runner import fit, finish, quiet_lightning, seed_and_threads, total_steps
from . import schedules, teacher_cache
from .module import DistillationModule

TEACHER_FILE = "teacher.json"
CACHE_BUDGET_BYTES = 4 << 30  # teacher features above this are recomputed per batch instead


def resolve_teacher(path: str | Path) -> Path:
    path = Path(path)
    return path / "model.ckpt" if path.is_dir() else path


def teacher_data_preset(ckpt: Path) -> str | None:
    """The data preset the teacher was trained on, from the config.yaml beside its checkpoint."""
    stored = ckpt.parent / rundir.CONFIG_FILE
    if not stored.is_file():
        return None
    try:
        return RunConfig.from_file(stored).data.preset
    except ConfigError:
        return None


def check_teacher_identity(root: Path, ckpt: Path, sha: str) -> None:
    """A resumed distillation must keep its teacher; a new one records it."""
    record = root / TEACHER_FILE
    if record.is_file():
        old = json.loads(record.read_text())
        if old.get("sha256") != sha:
            raise rundir.RunDirError(f"{root}: was distilled from another teacher ({old.get('path')}); "
                                     "use another --save_dir or --overwrite")
    rundir.write_json(record, {"path": str(ckpt), "sha256": sha})


def distill_run(cfg: RunConfig, teacher_path: str | Path, save_dir: str | Path, *,
                teacher_config: ModelConfig | None = None, overwrite: bool = False,
                progress: bool = True) -> dict:
    """Distil the teacher at teacher_path into cfg.model; writes model.ckpt and summary.json."""
    quiet_lightning()
    ckpt = resolve_teacher(teacher_path)
    teacher = load_model(ckpt, expect=teacher_config)
    trained_on = teacher_data_preset(ckpt)
    if trained_on is not None and trained_on != cfg.data.preset:
        raise ConfigError(f"data.preset: the teacher was trained on {trained_on!r}, the student config "
                          f"says {cfg.data.preset!r}")
    d = cfg.distillation
    try:
        pairs = schedules.coupling_pairs(teacher.config.num_layers, cfg.model.num_layers,
                                         d.teacher_layers, d.student_layers)
    except ValueError as err:
        raise ConfigError(f"distillation: {err}") from None
    train, val, test = (load_split(cfg.data, which) for which in ("train", "val", "test"))
    root, resuming = rundir.prepare(save_dir, cfg, overwrite)
    sha = teacher_cache.file_sha256(ckpt)
    check_teacher_identity(root, ckpt, sha)
    layers = schedules.teacher_layers(pairs)
    length = train.x.shape[1]
    with_features = teacher_cache.feature_bytes(len(train) + len(val), length, teacher.config.model_dim,
                                                len(layers)) <= CACHE_BUDGET_BYTES
    datasets = []
    for which, split in (("train", train), ("val", val)):
        targets, _ = teacher_cache.load_or_compute(root / "teacher_cache", teacher, sha,
                                                   teacher_cache.split_identity(cfg.data, which),
                                                   split.x, layers, with_features)
        datasets.append(TensorDataset(split.x, split.y, targets.outputs,
                                      *(targets.features[i] for i in layers)))
        if which == "train":
            pca_features = {i: targets.features[i][:256] for i in targets.features}
    seed_and_threads(cfg)
    student = build_model(cfg.model)
    module = DistillationModule(student, teacher, d, cfg.training, total_steps(cfg, len(train)),
                                cfg.data.preset, pairs, with_features)
    init_projections(module, teacher, train.x[:256], pca_features)
    training = fit(module, cfg, root, resuming, *datasets, progress)
    return finish(student, cfg, root, test, "student", training, teacher=teacher)


def init_projections(module: DistillationModule, teacher: torch.nn.Module, x: torch.Tensor,
                     features: dict[int, torch.Tensor]) -> None:
    """PCA-initialise projections from real teacher features of training columns, before fitting."""
    pending = [(t, s) for t, s in module.pairs if not module.projections[module.pair_name(t, s)].initialised]
    if not pending:
        return
    if not features:
        features = teacher_cache.run_teacher(teacher, x, schedules.teacher_layers(pending), True).features
    for t, s in pending:
        module.projections[module.pair_name(t, s)].init_from_features(features[t])
