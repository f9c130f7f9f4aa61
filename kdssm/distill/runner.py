"""`kdssm distill`: a frozen teacher checkpoint into a student run directory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from .. import losses
from ..checkpoint import load_model
from ..config import ConfigError, ModelConfig, RunConfig
from ..data.datasets import Split, data_columns, load_split, load_unlabelled, with_column_geometry
from ..files import model_file
from ..geometry import describe, get_preset
from ..inference import infer
from ..models import build_model
from ..resources import check_disk, check_run, disk_needs, room_for
from ..train import folder_lock, rundir
from ..train.plan import FitPlan, RunPlan, check_model
from ..train.runner import execute
from . import schedules, teacher_cache
from .layer_init import check_init_layers, copied_state, start_from_teacher
from .module import DistillationModule

TEACHER_FILE = "teacher.json"
CACHE_BUDGET_BYTES = 4 << 30  # teacher features above this are recomputed per batch instead
INIT_COLUMNS = 256  # training columns on which least-squares projections start


def teacher_data_preset(ckpt: Path) -> str | None:
    """The data preset the teacher was trained on, from the config.yaml beside its checkpoint."""
    stored = ckpt.parent / rundir.CONFIG_FILE
    if not stored.is_file():
        return None
    try:
        return RunConfig.from_file(stored).data.preset
    except ConfigError:
        return None


def check_teacher_preset(ckpt: Path, cfg: RunConfig) -> None:
    """Students learn on the columns their teacher was trained on (its run folder's data.preset)."""
    trained_on = teacher_data_preset(ckpt)
    if trained_on is not None and trained_on != cfg.data.preset:
        raise ConfigError(
            f"data.preset: the teacher was trained on {trained_on!r} columns ({describe(get_preset(trained_on))}), "
            f"the student config says {cfg.data.preset!r} ({describe(get_preset(cfg.data.preset))})"
        )


def check_unlabelled_can_teach(cfg: RunConfig) -> None:
    """Unlabelled columns teach only through the teacher terms; with those off nothing learns from them."""
    d = cfg.distillation
    if cfg.data.has_unlabelled and d.beta == 0 and d.gamma == 0:
        raise ConfigError(
            "data.unlabelled_size: unlabelled columns teach only through the teacher "
            "(distillation.beta and gamma are both 0)"
        )


def check_teacher_geometry(teacher: torch.nn.Module, cfg: RunConfig) -> None:
    """A student focuses the geometry its teacher was built for; checked before any column is made."""
    want, got = teacher.config.geometry, with_column_geometry(cfg, quiet=True).model.geometry
    if want is not None and got is not None and want != got:
        field = next(k for k in want if want[k] != got.get(k))
        raise ConfigError(
            f"model.geometry.{field}: the teacher focuses {describe(want)}; the student's columns have {describe(got)}"
        )


def coupled_layers(cfg: RunConfig, teacher: torch.nn.Module) -> list[tuple[int, int]]:
    """(teacher layer, student layer) pairs of the feature loss, or a one-line ConfigError."""
    d = cfg.distillation
    try:
        return schedules.coupling_pairs(
            teacher.config.num_layers, cfg.model.num_layers, d.teacher_layers, d.student_layers
        )
    except ValueError as err:
        raise ConfigError(f"distillation: {err}") from None


def check_teacher_identity(root: Path, ckpt: Path, sha: str, resuming: bool) -> None:
    """A resumed distillation must keep its teacher; a new one records it."""
    record = root / TEACHER_FILE
    if resuming and record.is_file():
        old = json.loads(record.read_text())
        if old.get("sha256") != sha:
            raise rundir.RunDirError(
                f"{root}: was distilled from another teacher ({old.get('path')}); use another --save_dir or --overwrite"
            )
    rundir.write_json(record, {"path": str(ckpt), "sha256": sha})


@dataclass(frozen=True)
class Teacher:
    """A checked teacher: its model.ckpt, the model (eval mode), the checkpoint file's sha256."""

    ckpt: Path
    model: torch.nn.Module
    sha: str


def load_teacher(cfg: RunConfig, teacher_path: str | Path, expect: ModelConfig | None = None) -> Teacher:
    """The teacher a student config can learn from, or a one-line error naming what does not fit (its
    file, its preset, its geometry, unlabelled columns with no teacher term); no column is made yet."""
    ckpt = model_file(teacher_path)
    model = load_model(ckpt, expect=expect)  # 0.03 s at s1: the wrong teacher is named first
    check_teacher_preset(ckpt, cfg)
    check_teacher_geometry(model, cfg)
    check_unlabelled_can_teach(cfg)
    return Teacher(ckpt, model, teacher_cache.file_sha256(ckpt))


@dataclass(frozen=True)
class Columns:
    """The student's columns: labelled train, val and test splits, unlabelled training columns or None."""

    train: Split
    val: Split
    test: Split
    unlabelled: Split | None

    def count(self) -> int:
        """Columns the teacher runs on (train, val, unlabelled)."""
        return len(self.train) + len(self.val) + (len(self.unlabelled) if self.unlabelled is not None else 0)


def load_columns(cfg: RunConfig) -> tuple[RunConfig, Columns]:
    """(cfg with the columns' geometry, the columns) of cfg.data."""
    train, val, test = (load_split(cfg.data, which) for which in ("train", "val", "test"))
    return with_column_geometry(cfg), Columns(train, val, test, load_unlabelled(cfg.data))


def plan_distillation(
    cfg: RunConfig,
    teacher_path: str | Path,
    save_dir: str | Path,
    *,
    teacher_config: ModelConfig | None = None,
    overwrite: bool = False,
) -> RunPlan:
    """`kdssm distill` (local or Ray Train): check teacher, config, memory, disk and data, then plan_student
    with the teacher's outputs cached in the run folder."""
    teacher = load_teacher(cfg, teacher_path, teacher_config)
    check_run(with_column_geometry(cfg, quiet=True), "distillation", teacher.model.config)
    check_disk(save_dir, disk_needs(cfg), "distillation")
    coupled_layers(cfg, teacher.model)  # a bad coupling or start is named before columns are made
    if cfg.distillation.init_layers:
        check_init_layers(cfg.distillation.init_layers, teacher.model.config.num_layers, cfg.model.num_layers)
    cfg, columns = load_columns(cfg)
    return plan_student(cfg, teacher, save_dir, columns, overwrite=overwrite)


def plan_student(
    cfg: RunConfig,
    teacher: Teacher,
    save_dir: str | Path,
    columns: Columns,
    *,
    targets: dict | None = None,
    cache: bool = True,
    overwrite: bool = False,
    reference: dict | None = None,
) -> RunPlan:
    """The one planning path of a student (`kdssm distill`, Ray Train, a sweep's trial): its coupling and
    model checked, its run folder prepared (resumed with the same teacher only), the teacher's targets
    (given: a sweep's shared ones over every teacher layer; else computed for the coupled layers, cached
    in the run folder with `cache`) as its datasets. cfg carries the columns' geometry (load_columns)."""
    pairs = coupled_layers(cfg, teacher.model)
    student = check_model(cfg)
    if cfg.distillation.init_layers:  # every copied tensor checked before anything is written
        copied_state(student, teacher.model, cfg.distillation.init_layers)
    root, resuming = rundir.prepare(save_dir, cfg, overwrite, inputs=[teacher.ckpt])
    with folder_lock.released_on_error(root):
        check_teacher_identity(root, teacher.ckpt, teacher.sha, resuming)
        if targets is None:
            targets = compute_targets(
                cfg,
                teacher.model,
                teacher.sha,
                schedules.teacher_layers(pairs),
                columns.train,
                columns.val,
                columns.unlabelled,
                root / "teacher_cache" if cache else None,
            )
        fit_plan = plan_from_targets(cfg, teacher.model, pairs, targets)
    return RunPlan(fit_plan, root, resuming, columns.test, "student", reference=reference)


def compute_targets(
    cfg: RunConfig,
    teacher: torch.nn.Module,
    sha: str,
    layers: list[int],
    train,
    val,
    unlabelled,
    cache_dir: Path | None,
    store_after_s: float = 0.0,
) -> dict:
    """{"train"/"val"[/"unlabelled"]: (split, TeacherTargets), "with_features": bool}: the teacher run
    once per split, the unlabelled columns (a Split without y, or None) included.

    Cached on disk under cache_dir (None: computed here, nothing stored); a split whose targets took
    less than store_after_s seconds is not stored (teacher_cache.load_or_compute).
    """
    splits = [("train", train), ("val", val)] + ([("unlabelled", unlabelled)] if unlabelled is not None else [])
    with_features = (
        teacher_cache.feature_bytes(
            sum(len(split) for _, split in splits), train.x.shape[1], teacher.config.model_dim, len(layers)
        )
        <= CACHE_BUDGET_BYTES
    )
    out: dict = {"with_features": with_features}
    if cache_dir is not None:
        n = sum(len(split) for _, split in splits)
        cache_bytes = n * train.x.shape[1] * 8 * (1 + (teacher.config.model_dim * len(layers) if with_features else 0))
        if not room_for(cache_dir, cache_bytes, "the teacher cache (computed in memory instead)"):
            cache_dir = None
    for which, split in splits:
        if cache_dir is None:
            targets = teacher_cache.run_teacher(teacher, split.x, layers, with_features)
        else:
            targets, _ = teacher_cache.load_or_compute(
                cache_dir,
                teacher,
                sha,
                teacher_cache.split_identity(split.x, split.y),
                split.x,
                layers,
                with_features,
                store_after_s,
            )
        out[which] = (split, targets)
    return out


def _dataset(parts: list[tuple], layers: list[int], with_features: bool) -> TensorDataset:
    """(x, y, labelled, teacher output, teacher features...) over labelled and unlabelled parts.

    Unlabelled columns get y = 0 and labelled False: the ground-truth terms skip them (module.py).
    """
    xs, ys, marks, outs = [], [], [], []
    feats: dict[int, list] = {i: [] for i in layers} if with_features else {}
    for split, t in parts:
        xs.append(split.x)
        ys.append(split.y if split.y is not None else torch.zeros(*split.x.shape[:2], 1, dtype=torch.complex64))
        marks.append(torch.full((len(split),), split.y is not None))
        outs.append(t.outputs)
        for i in feats:
            feats[i].append(t.features[i])
    cat = (lambda v: v[0]) if len(parts) == 1 else torch.cat  # a single part is not copied
    return TensorDataset(cat(xs), cat(ys), cat(marks), cat(outs), *(cat(v) for v in feats.values()))


def plan_from_targets(cfg: RunConfig, teacher: torch.nn.Module, pairs: list[tuple[int, int]], targets: dict) -> FitPlan:
    """Datasets of (x, y, labelled, teacher output, teacher features of the coupled layers) for one
    student, the unlabelled columns (if any) beside the labelled training columns."""
    layers = schedules.teacher_layers(pairs)
    with_features = targets["with_features"]
    train_parts = [targets["train"]] + ([targets["unlabelled"]] if "unlabelled" in targets else [])
    train_ds = _dataset(train_parts, layers, with_features)
    val_ds = _dataset([targets["val"]], layers, with_features)
    train_split, train_targets = targets["train"]
    if with_features:
        init_features = {i: train_targets.features[i][:INIT_COLUMNS] for i in layers}
    else:  # features too large to cache: run the teacher on the few columns the projections start from
        init_features = teacher_cache.run_teacher(teacher, train_split.x[:INIT_COLUMNS], layers, True).features
    return FitPlan(
        cfg,
        train_ds,
        val_ds,
        distillation_module,
        teacher=teacher,
        pairs=pairs,
        with_features=with_features,
        init_columns=train_split.x[:INIT_COLUMNS],
        init_features=init_features,
        teacher_error=losses.teacher_error_profile(train_targets.outputs, train_split.y),
    )


def distillation_module(plan: FitPlan) -> DistillationModule:
    cfg = plan.cfg
    student = build_model(cfg.model)
    if cfg.distillation.init_layers:
        start_from_teacher(student, plan.teacher, cfg.distillation.init_layers)
    module = DistillationModule(
        student,
        plan.teacher,
        cfg.distillation,
        cfg.training,
        plan.total_steps,
        data_columns(cfg.data),
        plan.pairs,
        plan.with_features,
        teacher_error=plan.teacher_error,
    )
    init_projections(module, plan.init_columns, plan.init_features)
    return module


def distill_run(
    cfg: RunConfig,
    teacher_path: str | Path,
    save_dir: str | Path,
    *,
    teacher_config: ModelConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Distil the teacher at teacher_path into cfg.model; writes model.ckpt and summary.json."""
    run = plan_distillation(cfg, teacher_path, save_dir, teacher_config=teacher_config, overwrite=overwrite)
    return execute(run, progress)


def init_projections(
    module: DistillationModule, columns: torch.Tensor, teacher_features: dict[int, torch.Tensor]
) -> None:
    """Start `pca_init` projections as the least-squares map from the untrained student's features
    on training columns (N, L, 2) to the teacher's, before fitting."""
    pending = [(t, s) for t, s in module.pairs if not module.projections[module.pair_name(t, s)].initialised]
    if not pending:
        return
    _, student_features = infer(module.model, columns, return_features=True)  # no grad: the inference path
    for t, s in pending:
        module.projections[module.pair_name(t, s)].init_from_features(student_features[s], teacher_features[t])
