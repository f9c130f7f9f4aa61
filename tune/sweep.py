"""`kdssm sweep`: Ray Tune + Optuna over distilled students, the Pareto front, and MLflow.

The driver checks everything first (search space, tracking server, teacher, data, cluster), runs
the teacher once over the training and validation columns (cached on disk and handed to every
trial through the object store without copies) and scores the teacher and the matched filter once,
then lets Tune run `search.num_samples` trials: a single-worker student trains inside its own Tune
trial, a multi-worker one through a Ray Train run. Running the same command on the same folder
resumes: Tune restores its experiment (finished trials are kept, unfinished ones continue from their
checkpoints), the Optuna study lives in sqlite beside it and the early-stopping board in rungs.json.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace
from pathlib import Path

import optuna
from ray import tune

from kdssm import interrupts, tracking
from kdssm.config import RunConfig
from kdssm.data.datasets import data_columns
from kdssm.distill.runner import compute_targets, load_columns, load_teacher
from kdssm.resources import check_disk, disk_needs
from kdssm.train import folder_lock, rundir
from kdssm.train.cluster import (
    ClusterOptions,
    DistributedError,
    check_shared_folder,
    connect,
)
from kdssm.train.progress import on_terminal

from . import pareto, shared_targets, space
from .callbacks import MlflowTrials, ProgressLines
from .folder import RUNGS, TUNE, prepare_folder
from .moasha import BOARDS
from .placement import check_trial_memory, concurrency, trial_resources, tune_storage
from .records import HYPERVOLUME_JSON, HYPERVOLUME_PNG, experiment_name, record_when_reachable, split_datasets
from .results import (
    REFERENCE,
    TRIALS,
    finished_trials,
    front_of,
    quiet_latency,
    reference_scores,
)
from .study import STUDY, StudentSearch, StudyLinks, sampler, scheduler, study_storage
from .trial import SweepContext, objectives, run_trial

optuna.logging.set_verbosity(optuna.logging.WARNING)

EXPERIMENT = "sweep"  # the Tune experiment's folder under <save_dir>/tune


# The driver's teacher targets are kept on disk for a resumed sweep only when computing them took at
# least this long: the demo teacher runs over its 4,352 columns in about 1 s, while writing its 428 MB
# of features took 2-4 s of the sweep's start (measured on 2 cores), and a resume recomputes them in 1 s.
CACHE_AFTER_S = 10.0


def build_tuner(
    cfg: RunConfig, ctx: SweepContext, save_dir: Path, uri: str, parallel: int, progress: bool, datasets: list[dict]
):
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, ctx=ctx), trial_resources(ctx.cluster, ctx.in_trial)
    )
    storage = tune_storage(save_dir, ctx.cluster)
    path = f"{storage}/{EXPERIMENT}"
    if tune.Tuner.can_restore(path):
        print(f"[sweep] resuming the interrupted sweep in {save_dir}", flush=True)
        return tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=True)
    s = cfg.search
    goals = objectives(cfg)
    links = StudyLinks()
    search = StudentSearch(
        space=space.distributions(s),
        metric=[m for m, _ in goals],
        mode=[m for _, m in goals],
        sampler=sampler(cfg),
        study_name=STUDY,
        storage=study_storage(cfg, save_dir),
        links=links,
    )
    trials_dir = str((save_dir / TRIALS).resolve())
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=search,
            scheduler=scheduler(s.early_stopping),
            num_samples=s.num_samples,
            max_concurrent_trials=parallel,
            # An in-trial student trains in its trial's own process: a new process per trial paid 5-8 s of
            # start-up (torch, Lightning, kdssm imported again) between trials, longer than the fixed cost
            # of the trial itself. Kept, the next trial starts at once. Ray Train trials only drive workers.
            reuse_actors=ctx.in_trial,
        ),
        run_config=tune.RunConfig(
            # Tune's status table on a terminal only; a log file gets the plain per-trial lines
            name=EXPERIMENT,
            storage_path=storage,
            verbose=1 if progress and on_terminal() else 0,
            # a trial whose node is lost (a spot GPU preempted) runs again and resumes from its checkpoint
            failure_config=tune.FailureConfig(max_failures=ctx.cluster.max_failures),
            callbacks=[
                MlflowTrials(uri, experiment_name(cfg, save_dir), str(save_dir), trials_dir, datasets, links),
                ProgressLines(s.num_samples, trials_dir),
                *tune_logs(),
            ],
        ),
    )


def tune_logs() -> list:
    """Tune's own per-trial logs (result.json, progress.csv) without its TensorBoard files: with those
    Tune's console told users to run a `tensorboard` kdssm does not install, while MLflow holds the curves.
    TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=0 in the environment brings them back."""
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    return [CSVLoggerCallback(), JsonLoggerCallback()]


def run_sweep(
    cfg: RunConfig,
    teacher_path: str | Path,
    save_dir: str | Path,
    cluster: ClusterOptions | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Search students of the teacher; writes pareto.json/.png and the MLflow records; returns pareto.json."""
    space.check(cfg.search)  # before anything is read or written
    space.check_budget(cfg)
    space.check_start(cfg)
    save_dir = Path(save_dir).resolve()  # Tune and the trials want absolute paths
    uri = tracking.resolve_uri(cfg.tracking.tracking_uri, save_dir)
    checked = load_teacher(cfg, teacher_path)  # the checks and loading of `kdssm distill`
    ckpt, teacher, sha = checked.ckpt, checked.model, checked.sha
    cfg, columns = load_columns(cfg)
    train, val, test, unlabelled = columns.train, columns.val, columns.test, columns.unlabelled
    if not uri.startswith("sqlite:"):  # a server answers before anything starts
        tracking.check_reachable(uri)
    largest = space.largest(cfg, cfg.search)
    check_trial_memory(largest, teacher.config)
    trial_disk = sum(disk_needs(largest).values())
    check_disk(
        save_dir,
        {
            "trials": cfg.search.num_samples * trial_disk,
            **{k: v for k, v in disk_needs(cfg, teacher.config).items() if k.startswith("teacher")},
        },
        f"the sweep ({cfg.search.num_samples} trials)",
    )
    prepare_folder(save_dir, cfg, sha, overwrite, ckpt)  # refused (in use, input, other sweep) before Ray starts
    try:
        cluster = replace(cluster or ClusterOptions(), num_workers=cfg.search.workers_per_trial)
        connect(cluster, worker_output=False)
        check_shared_folder(save_dir)  # several nodes: every trial must see the folder
        parallel = concurrency(cfg, cluster)
        if uri.startswith("sqlite:"):  # its folder may be save_dir, which exists only now
            tracking.check_reachable(uri)
        (save_dir / "search_space.json").write_text(json.dumps(space.rules(cfg.search), indent=2) + "\n")
        targets = None
        if cfg.search.share_teacher:
            print(
                f"[sweep] teacher outputs and features over {columns.count()} columns, once for every trial", flush=True
            )
            targets = shared_targets.to_numpy(
                compute_targets(
                    cfg,
                    teacher,
                    sha,
                    list(range(teacher.config.num_layers)),
                    train,
                    val,
                    unlabelled,
                    save_dir / "teacher_cache",
                    store_after_s=CACHE_AFTER_S,
                )
            )  # NumPy: every trial reads the object store's copy
        s = cfg.search
        board = (
            BOARDS[s.early_stopping].remote(
                cfg.training.num_epochs, s.grace_epochs, s.reduction_factor, str(save_dir / RUNGS)
            )
            if s.early_stopping != "none"
            else None
        )
        reference = reference_scores(cfg, teacher, val, test) | {"checkpoint": str(ckpt)}
        rundir.write_json(save_dir / REFERENCE, reference)  # `kdssm pareto` on the running sweep reads it
        ctx = SweepContext(
            cfg, str((save_dir / TRIALS).resolve()), str(ckpt.resolve()), sha, targets, cluster, board, test, reference
        )
        how = "in the trial itself" if ctx.in_trial else f"{cluster.num_workers} Ray Train worker(s)"
        print(
            f"[sweep] {cfg.search.num_samples} students, {parallel} at a time, each trained {how}; MLflow: {uri}",
            flush=True,
        )
        datasets = split_datasets(
            cfg,
            {"train": train, "val": val, "test": test} | ({"unlabelled": unlabelled} if unlabelled is not None else {}),
        )
        try:
            grid = build_tuner(cfg, ctx, save_dir, uri, parallel, progress, datasets).fit()
        except interrupts.Interrupted as err:  # SIGTERM (Tune answers SIGINT itself, and returns)
            raise interrupted(cfg, save_dir, len(finished_trials(cfg, save_dir)), err.signum) from None
        check_complete(cfg, grid, save_dir)
        return conclude(cfg, save_dir, ckpt, uri, reference, datasets, test.x)
    except BaseException as err:
        tracking.end_sweep_run(
            uri, experiment_name(cfg, save_dir), save_dir, "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
        )
        raise
    finally:
        folder_lock.release(save_dir)


def check_complete(cfg: RunConfig, grid, save_dir: Path) -> None:
    """Ray Tune answers SIGINT by stopping its trials and returning as if done: a sweep whose trials did
    not all end (finished, stopped early or failed) is interrupted, and nothing of it is concluded."""
    ended = grid.num_terminated + grid.num_errors
    if ended < cfg.search.num_samples:
        raise interrupted(cfg, save_dir, ended, interrupts.received() or signal.SIGINT)


def interrupted(cfg: RunConfig, save_dir: Path, ended: int, signum: int) -> interrupts.Interrupted:
    return interrupts.Interrupted(
        signum,
        f"{ended} of {cfg.search.num_samples} trials ended, kept in {save_dir}; no front was written or registered",
    )


def conclude(
    cfg: RunConfig, save_dir: Path, ckpt: Path, uri: str, reference: dict, datasets: list[dict], test_x
) -> dict:
    """pareto.json/.png, the comparison table, the parent and teacher runs, the registry; test_x (N, L, 2):
    the test columns the latencies are measured on."""
    finished = finished_trials(cfg, save_dir)
    if not finished:
        raise DistributedError(f"no trial of the sweep in {save_dir} finished; see {save_dir / TUNE}")
    quiet_latency(save_dir, finished, reference, test_x, data_columns(cfg.data), cfg.search.latency_length)
    front = front_of(cfg, save_dir, finished, reference)
    stopped = [t["trial_id"] for t in finished if t["summary"].get("stopped_early")]
    pareto.write(save_dir, front, stopped)
    by_end = sorted(finished, key=lambda t: (save_dir / TRIALS / t["trial_id"] / rundir.SUMMARY_FILE).stat().st_mtime)
    history = pareto.hypervolume_history(
        [pareto.objectives(t["metrics"], reference["teacher"], front["objectives"]) for t in by_end]
    )
    pareto.plot_history(save_dir / HYPERVOLUME_PNG, history)
    rundir.write_json(save_dir / HYPERVOLUME_JSON, history)  # the parent run's stepped metric (records.py)
    table = pareto.table(front)
    (save_dir / "comparison.md").write_text("```\n" + table + "\n```\n")
    record_when_reachable(cfg, save_dir, ckpt, uri, front, len(finished), stopped, datasets)
    return front
