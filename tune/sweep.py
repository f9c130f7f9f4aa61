"""`kdssm sweep`: Ray Tune + Optuna over distilled students, the Pareto front, and MLflow.

The driver checks everything first (search space, tracking server, teacher, data, cluster), runs
the teacher once over the training and validation columns (cached on disk and handed to every
trial through the object store), then lets Tune run `search.num_samples` trials, each a Ray Train
distillation. Running the same command on the same folder resumes: Tune restores its experiment
(finished trials are kept, unfinished ones continue from their Ray Train checkpoints) and the
Optuna study lives in sqlite beside it.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import optuna
import ray
import yaml
from ray import tune
from ray.tune.search.optuna import OptunaSearch

from kdssm import tracking
from kdssm.checkpoint import load_model
from kdssm.config import RunConfig
from kdssm.data.datasets import load_split, load_unlabelled, with_column_geometry
from kdssm.distill import teacher_cache
from kdssm.distill.runner import (check_teacher_geometry, check_teacher_preset, check_unlabelled_can_teach,
                                  compute_targets, resolve_teacher)
from kdssm.train import rundir
from kdssm.train.cluster import ClusterOptions, DistributedError, check_resources, connect

from . import pareto, space
from .callbacks import MlflowTrials, ProgressLines, trial_metrics
from .early_stop import RungBoard
from .trial import SweepContext, objectives, run_trial

optuna.logging.set_verbosity(optuna.logging.WARNING)

SWEEP_CONFIG = "sweep.yaml"
TEACHER_RECORD = "teacher.json"
TRIALS, TUNE, OPTUNA_DB = "trials", "tune", "optuna.db"
TRIAL_MEMORY = 256 << 20  # bytes reserved by a trial's driver process
EXPERIMENT = "sweep"  # the Tune experiment's folder under <save_dir>/tune
CREATED = (SWEEP_CONFIG, TEACHER_RECORD, TRIALS, TUNE, OPTUNA_DB, "teacher_cache", pareto.PARETO_JSON,
           pareto.PARETO_PNG, "comparison.md", "registry.json", "search_space.json")


def experiment_name(cfg: RunConfig, save_dir: Path) -> str:
    return cfg.tracking.experiment or f"kdssm-{save_dir.resolve().name}"


def prepare_folder(save_dir: Path, cfg: RunConfig, teacher_sha: str, overwrite: bool) -> None:
    """Make save_dir ready; an interrupted sweep resumes only with the same config and teacher."""
    if save_dir.exists() and not save_dir.is_dir():
        raise rundir.RunDirError(f"{save_dir}: save_dir exists and is not a directory")
    if overwrite:
        for name in CREATED:
            target = save_dir / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    try:
        rundir.writable_folder(save_dir)
    except OSError as err:
        raise rundir.RunDirError(f"{save_dir}: save_dir is not writable ({err.strerror})") from None
    stored, record = save_dir / SWEEP_CONFIG, save_dir / TEACHER_RECORD
    if stored.is_file():
        diff = rundir.first_difference(yaml.safe_load(stored.read_text()) or {}, cfg.to_dict())
        if diff:
            raise rundir.RunDirError(f"{save_dir}: holds a sweep with another config ({diff}); "
                                     "use another --save_dir or --overwrite")
        if record.is_file() and json.loads(record.read_text()).get("sha256") != teacher_sha:
            raise rundir.RunDirError(f"{save_dir}: holds a sweep of another teacher; use another --save_dir "
                                     "or --overwrite")
        return
    rundir.write_json(record, {"sha256": teacher_sha})
    cfg.dump(stored)


def sampler(cfg: RunConfig) -> optuna.samplers.BaseSampler:
    s = cfg.search
    if s.sampler == "nsga2":  # population: half the trials, so that a small sweep still breeds a generation
        return optuna.samplers.NSGAIISampler(population_size=max(2, min(50, s.num_samples // 2)), seed=s.search_seed)
    if s.sampler == "tpe":
        return optuna.samplers.TPESampler(n_startup_trials=max(2, min(10, s.num_samples // 2)), multivariate=True,
                                          seed=s.search_seed)
    return optuna.samplers.RandomSampler(seed=s.search_seed)


def concurrency(cfg: RunConfig, cluster: ClusterOptions) -> int:
    """Trials at once: search.max_concurrent_trials, or as many as the cluster's CPUs (GPUs) hold."""
    available = ray.cluster_resources()
    check_resources(cluster, available)
    if cfg.search.max_concurrent_trials:
        return cfg.search.max_concurrent_trials
    fits = int(available.get("CPU", 0) // (cluster.num_workers * cluster.cpus_per_worker))
    if cluster.use_gpu:
        fits = min(fits, int(available.get("GPU", 0) // cluster.num_workers))
    return max(1, min(fits, cfg.search.num_samples))


def build_tuner(cfg: RunConfig, ctx: SweepContext, save_dir: Path, uri: str, parallel: int, progress: bool):
    # The trial only drives its Ray Train run, whose workers hold the CPUs (GPUs); it reserves memory only.
    trainable = tune.with_resources(tune.with_parameters(run_trial, ctx=ctx), {"memory": TRIAL_MEMORY})
    path = save_dir / TUNE / EXPERIMENT
    if tune.Tuner.can_restore(str(path)):
        print(f"[sweep] resuming the interrupted sweep in {save_dir}", flush=True)
        return tune.Tuner.restore(str(path), trainable, resume_unfinished=True, resume_errored=True)
    s = cfg.search
    goals = objectives(cfg)
    search = OptunaSearch(space=space.distributions(s), metric=[m for m, _ in goals], mode=[m for _, m in goals],
                          sampler=sampler(cfg), study_name="kdssm",
                          storage=optuna.storages.RDBStorage(f"sqlite:///{(save_dir / OPTUNA_DB).resolve()}"))
    trials_dir = str((save_dir / TRIALS).resolve())
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=search, num_samples=s.num_samples,
                                    max_concurrent_trials=parallel),
        run_config=tune.RunConfig(
            name=EXPERIMENT, storage_path=str((save_dir / TUNE).resolve()), verbose=1 if progress else 0,
            callbacks=[MlflowTrials(uri, experiment_name(cfg, save_dir), str(save_dir), trials_dir),
                       ProgressLines(s.num_samples, trials_dir)]),
    )


def run_sweep(cfg: RunConfig, teacher_path: str | Path, save_dir: str | Path, cluster: ClusterOptions | None = None,
              *, overwrite: bool = False, progress: bool = True) -> dict:
    """Search students of the teacher; writes pareto.json/.png and the MLflow records; returns pareto.json."""
    save_dir = Path(save_dir).resolve()  # Tune and the trials want absolute paths
    uri = tracking.resolve_uri(cfg.tracking.tracking_uri, save_dir)
    ckpt = resolve_teacher(teacher_path)
    teacher = load_model(ckpt)
    check_teacher_preset(ckpt, cfg)
    check_unlabelled_can_teach(cfg)
    train, val = (load_split(cfg.data, which) for which in ("train", "val"))
    unlabelled = load_unlabelled(cfg.data)
    cfg = with_column_geometry(cfg)
    check_teacher_geometry(teacher, cfg)
    if not uri.startswith("sqlite:"):  # a server answers before anything starts
        tracking.check_reachable(uri)
    cluster = replace(cluster or ClusterOptions(), num_workers=cfg.search.workers_per_trial)
    connect(cluster, worker_output=False)
    parallel = concurrency(cfg, cluster)
    sha = teacher_cache.file_sha256(ckpt)
    prepare_folder(save_dir, cfg, sha, overwrite)
    if uri.startswith("sqlite:"):  # its folder may be save_dir, which exists only now
        tracking.check_reachable(uri)
    (save_dir / "search_space.json").write_text(json.dumps(cfg.search.space, indent=2) + "\n")
    targets = None
    if cfg.search.share_teacher:
        columns = len(train) + len(val) + (len(unlabelled) if unlabelled is not None else 0)
        print(f"[sweep] teacher outputs and features over {columns} columns, once for every trial", flush=True)
        targets = compute_targets(cfg, teacher, sha, list(range(teacher.config.num_layers)), train, val,
                                  unlabelled, save_dir / "teacher_cache")
    s = cfg.search
    board = (RungBoard.remote(cfg.training.num_epochs, s.grace_epochs, s.reduction_factor)
             if s.early_stopping == "pareto_halving" else None)
    ctx = SweepContext(cfg, str((save_dir / TRIALS).resolve()), str(ckpt.resolve()), sha, targets, cluster, board)
    print(f"[sweep] {cfg.search.num_samples} students, {parallel} at a time, {cluster.num_workers} Ray Train "
          f"worker(s) each; MLflow: {uri}", flush=True)
    results = build_tuner(cfg, ctx, save_dir, uri, parallel, progress).fit()
    return conclude(cfg, save_dir, ckpt, uri, results)


def conclude(cfg: RunConfig, save_dir: Path, ckpt: Path, uri: str, results) -> dict:
    """pareto.json/.png, the comparison table, the parent and teacher runs, the registry."""
    finished = []
    for result in results:
        trial_id = (result.metrics or {}).get("trial_id") or Path(result.path).name
        folder = save_dir / TRIALS / trial_id
        summary_path = folder / rundir.SUMMARY_FILE
        if summary_path.is_file():
            summary = json.loads(summary_path.read_text())
            finished.append({"trial_id": trial_id, "config": summary["model"] | {
                k: v for k, v in result.config.items() if k not in summary["model"]},
                "metrics": trial_metrics(summary), "checkpoint": str(folder / "model.ckpt"), "summary": summary})
    if not finished:
        raise DistributedError(f"no trial of the sweep in {save_dir} finished; see {save_dir / TUNE}")
    teacher = dict(finished[0]["summary"]["teacher"])
    baseline = dict(finished[0]["summary"]["matched_filter"])  # on the same test columns as every student
    front = pareto.build(teacher, [{k: t[k] for k in ("trial_id", "config", "metrics", "checkpoint")}
                                   for t in finished], save_dir, baseline)
    stopped = [t["trial_id"] for t in finished if t["summary"].get("stopped_early")]
    pareto.write(save_dir, front, stopped)
    table = pareto.table(front)
    (save_dir / "comparison.md").write_text("```\n" + table + "\n```\n")
    record(cfg, save_dir, ckpt, uri, front, len(finished), stopped)
    return front


def record(cfg: RunConfig, save_dir: Path, ckpt: Path, uri: str, front: dict, finished: int, stopped: list) -> None:
    name = experiment_name(cfg, save_dir)
    tracker = tracking.SweepTracker(uri, name, save_dir)
    teacher_summary = ckpt.parent / rundir.SUMMARY_FILE
    config_file = ckpt.parent / rundir.CONFIG_FILE
    tracker.teacher(ckpt.parent, json.loads(teacher_summary.read_text()) if teacher_summary.is_file() else {},
                    yaml.safe_load(config_file.read_text()) if config_file.is_file() else {})
    tracker.finish_sweep(
        tracking.flat("", {"search": cfg.search.to_dict() | {"space": json.dumps(cfg.search.space)},
                           "training": cfg.training.to_dict(), "data": cfg.data.to_dict()}),
        {"hypervolume": front["hypervolume"], "trials_finished": finished, "trials_stopped_early": len(stopped),
         "front_size": len(front["front"]),
         "front_beating_matched_filter": sum(e["beats_baseline"] for e in front["front"]),
         **tracking.scalar_metrics({k: v for k, v in front["baseline"].items() if k != "name"}, "matched_filter.")},
        [save_dir / n for n in (pareto.PARETO_JSON, pareto.PARETO_PNG, SWEEP_CONFIG, "comparison.md",
                                "search_space.json")])
    if not cfg.tracking.register_front:
        return
    model_name = cfg.tracking.registered_model or f"{name}-students"
    versions = {}
    length = None
    for entry in front["front"]:
        run_id = tracker.trial(entry["trial_id"], {})
        if length is None:
            length = load_split(cfg.data, "test").x.shape[1]
        versions[entry["trial_id"]] = tracker.register(model_name, run_id, save_dir / entry["checkpoint"],
                                                       entry["metrics"], length)
    best = max(front["front"], key=lambda e: e["metrics"]["accuracy"])
    smallest = min(front["front"], key=lambda e: e["metrics"]["params"])
    aliases = {"best-accuracy": versions[best["trial_id"]], "smallest": versions[smallest["trial_id"]]}
    for alias, version in aliases.items():
        tracker.alias(model_name, alias, version)
    rundir.write_json(save_dir / "registry.json", {"tracking_uri": uri, "experiment": name,
                                                   "registered_model": model_name,
                                                   "versions": versions, "aliases": aliases})
