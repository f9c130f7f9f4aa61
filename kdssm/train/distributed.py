"""Data-parallel `kdssm train` and `kdssm distill` on Ray Train (V2): a TorchTrainer around the Lightning modules.

The driver plans the run exactly as a local run does (data checked, run folder prepared, teacher
targets cached), puts the FitPlan into Ray's object store once and starts `num_workers` workers.
Every worker builds the same seeded module and trains on its own shard (Lightning's
DistributedSampler under RayDDPStrategy; gloo on CPU, nccl on GPU); validation energies are summed
across ranks before the ratio. A checkpoint goes to storage_path every epoch. A failed worker
restarts the group from the latest checkpoint (FailureConfig.max_failures); a killed driver resumes
when the same command runs again, because the Ray run name follows from the run folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from contextlib import nullcontext
from pathlib import Path

import pytorch_lightning as pl
import ray
import ray.train
import torch
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.profilers import SimpleProfiler
from ray.train import CheckpointConfig, FailureConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from ..models import build_model
from . import folder_lock
from .cluster import ClusterOptions, DistributedError, clear_run, resolve_storage
from .history import EpochHistory
from .module import selection
from .plan import RunPlan
from .rendezvous import LocalRendezvousConfig, remove_rendezvous
from .runner import TrainingDiverged, finish
from .runner import execute as execute_here
from .trainer import build_trainer, loaders, quiet_lightning

LIGHTNING_CHECKPOINT = "checkpoint.ckpt"  # the file RayTrainReportCallback writes in each Ray checkpoint
HISTORY_FILE = "history.jsonl"


def run_name(root: Path) -> str:
    """The Ray Train run name of a run folder: the same folder always gets the same name (driver resume)."""
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
    return f"{root.name}-{digest}"


def _worker_trainer(job: dict, plan, log_here: bool, profiler) -> pl.Trainer:
    from ray.train.lightning import RayDDPStrategy, RayLightningEnvironment, RayTrainReportCallback, prepare_trainer

    t = plan.cfg.training
    return prepare_trainer(
        build_trainer(
            t,
            max(1, plan.total_steps // t.num_epochs),
            [*job["callbacks"], RayTrainReportCallback()],
            accelerator="gpu" if job["use_gpu"] else "cpu",
            devices="auto",
            # distillation: terms weighted 0 by the curriculum (or stages not yet coupled) leave projections idle
            strategy=RayDDPStrategy(find_unused_parameters=plan.teacher is not None),
            plugins=[RayLightningEnvironment()],
            logger=CSVLogger(job["log_dir"], name="logs") if log_here else False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            profiler=profiler,
        )
    )


def _worker(job: dict) -> dict:
    """One Ray Train worker: build the seeded module, fit on this rank's shard, resume from Ray's checkpoint."""
    # Ray Train's context module logs one INFO line per report under a logger named by its file path;
    # named here by path, not imported (a private module): if Ray moves it, the lines merely come back.
    logging.getLogger(
        os.path.join(os.path.dirname(ray.train.__file__), "v2", "_internal", "execution", "context.py")
    ).setLevel(logging.WARNING)
    quiet_lightning()
    plan = ray.get(job["plan"])
    t = plan.cfg.training
    torch.set_num_threads(job["threads"])
    pl.seed_everything(t.seed, workers=True, verbose=False)
    module = plan.module()
    rank = ray.train.get_context().get_world_rank()
    nodes = [None] * ray.train.get_context().get_world_size()
    torch.distributed.all_gather_object(nodes, ray.get_runtime_context().get_node_id())
    profiler = SimpleProfiler() if job["profile"] else None
    log_here = rank == 0 and nodes[0] == job["driver_node"]  # CSV curves only where the driver can read them
    trainer = _worker_trainer(job, plan, log_here, profiler)
    checkpoint = ray.train.get_checkpoint()
    try:
        with checkpoint.as_directory() if checkpoint else nullcontext(None) as folder:
            resume = os.path.join(folder, LIGHTNING_CHECKPOINT) if folder else None
            trainer.fit(module, *loaders(t, plan.train_ds, plan.val_ds, distributed=True), ckpt_path=resume)
    except FloatingPointError as err:  # raised on every rank together (GroundTruthModule.stop_if_diverged)
        return {"diverged": str(err)}
    out = {"epochs": trainer.current_epoch, "nodes": nodes}
    if profiler is not None:  # seconds per call of each phase (forward, backward with its all-reduce, data, ...)
        out["profile"] = {
            name: {"mean_s": sum(times) / len(times), "calls": len(times)}
            for name, times in profiler.recorded_durations.items()
            if times
        }
    return out


def execute(
    run: RunPlan,
    opts: ClusterOptions,
    progress: bool = True,
    callbacks: list | None = None,
    worker_callbacks: list | None = None,
) -> dict:
    """Fit run.fit on Ray Train workers, then score the best epoch's weights into model.ckpt and summary.json.

    callbacks: Ray Train UserCallbacks (in the controller, on this node); worker_callbacks: Lightning
    callbacks for every worker's Trainer (picklable). The run folder is released when this returns.
    """
    try:
        return _fit_on_workers(run, opts, progress, callbacks, worker_callbacks)
    finally:
        folder_lock.release(run.root)  # held since rundir.prepare


def _fit_on_workers(
    run: RunPlan, opts: ClusterOptions, progress: bool, callbacks: list | None, worker_callbacks: list | None
) -> dict:
    if run.fit.cfg.training.num_epochs == 0:  # nothing to train: score the initialised model here
        return execute_here(run, progress)
    storage = resolve_storage(opts.storage_path, run.root)
    name = run_name(run.root)
    metric, mode = selection(run.fit.cfg.training)
    if not run.resuming:
        clear_run(storage, name)  # a fresh or overwritten run folder never inherits an old Ray run
    history = run.root / HISTORY_FILE
    if not run.resuming:
        history.unlink(missing_ok=True)
    run.fit.world_size = opts.num_workers
    resources = {"CPU": opts.cpus_per_worker, **({"GPU": 1} if opts.use_gpu else {})}
    trainer = TorchTrainer(
        _worker,
        train_loop_config={
            "plan": ray.put(run.fit),
            "threads": opts.cpus_per_worker,
            "use_gpu": opts.use_gpu,
            "profile": opts.profile,
            "callbacks": list(worker_callbacks or []),
            "log_dir": str(run.root.resolve()),
            "driver_node": ray.get_runtime_context().get_node_id(),
        },
        scaling_config=ScalingConfig(
            num_workers=opts.num_workers,
            use_gpu=opts.use_gpu,
            resources_per_worker=resources,
            placement_strategy=opts.placement,
        ),
        torch_config=LocalRendezvousConfig(backend="nccl" if opts.use_gpu else "gloo", run=name),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=storage,
            logging_config=ray.LoggingConfig(log_level="WARNING"),  # Ray Train's INFO lines stay in its logs
            failure_config=FailureConfig(max_failures=opts.max_failures),
            checkpoint_config=CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute=metric, checkpoint_score_order=mode
            ),
            callbacks=[
                EpochHistory(str(history), run.fit.cfg.training.num_epochs, progress, opts.max_failures),
                *(callbacks or []),
            ],
        ),
    )
    started = time.perf_counter()
    try:
        result = trainer.fit()
    except ray.train.TrainingFailedError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DistributedError(f"distributed training failed after {opts.max_failures} restarts: {first}") from None
    finally:
        remove_rendezvous(name)  # the controller's own removal may not run before it is torn down
    seconds = time.perf_counter() - started
    outcome = result.return_value or {}
    if "diverged" in outcome:
        raise TrainingDiverged(
            f"{outcome['diverged']}; stopped, the last good checkpoint in {storage}/{name} is untouched"
        )
    best = result.get_best_checkpoint(metric=metric, mode=mode) or result.checkpoint
    model = build_model(run.fit.cfg.model, initialise=False)
    model.load_state_dict(best_weights(best))
    training = {
        "epochs": outcome.get("epochs", (result.metrics or {}).get("epoch", -1) + 1),
        "train_seconds": round(seconds, 1),
        "selected_on": metric,
        **best_of(result, best, metric),
        "workers": opts.num_workers,
        "nodes": len(set(outcome.get("nodes", []))) or None,
        "ray_run": f"{storage}/{name}",
    }
    if "profile" in outcome:
        training["profile"] = outcome["profile"]
    return finish(model, run, training)


def best_weights(checkpoint: ray.train.Checkpoint) -> dict[str, torch.Tensor]:
    """The trained model's weights (the LightningModule's `model.` entries) from a Ray checkpoint."""
    with checkpoint.as_directory() as folder:
        state = torch.load(Path(folder) / LIGHTNING_CHECKPOINT, map_location="cpu", weights_only=True)
    prefix = "model."
    return {k[len(prefix) :]: v for k, v in state["state_dict"].items() if k.startswith(prefix)}


def best_of(result, checkpoint, metric: str) -> dict:
    """{"best_value", "best_epoch"} of the kept checkpoint, from the metrics Ray reported with it."""
    for kept, metrics in result.best_checkpoints or []:
        if kept.path == checkpoint.path:
            return {"best_value": float(metrics[metric]), "best_epoch": int(metrics.get("epoch", -1))}
    return {"best_value": None, "best_epoch": None}
