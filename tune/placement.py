"""Where a sweep's trials run: their resources on the cluster, how many at once, where Tune keeps its state,
and the refusal of a space whose largest student fits no node."""

from __future__ import annotations

from pathlib import Path

import ray
from ray import tune

from kdssm.config import ModelConfig, RunConfig
from kdssm.resources import ResourceError, available_memory, mb, run_memory
from kdssm.train.cluster import ClusterOptions, capacity, node_types, resolve_storage

from .folder import TUNE

TRIAL_MEMORY = 256 << 20  # bytes reserved by a trial's driver process


def check_trial_memory(largest: RunConfig, teacher: ModelConfig) -> None:
    """Refuse (one line, nothing written) a space whose largest student cannot train on any Ray node."""
    nodes = [n["Resources"].get("memory", 0) for n in ray.nodes() if n.get("Alive")] if ray.is_initialized() else []
    biggest = int(max(nodes, default=0)) or available_memory()
    estimate = run_memory(largest, teacher)
    if estimate.total > biggest:
        m = largest.model
        raise ResourceError(
            f"search.space: its largest student ({m.size_label}, batch "
            f"{largest.training.batch_size}) needs about {mb(estimate.total)} of memory per trial, the "
            f"largest Ray node has {mb(biggest)}; lower the space's model_dim, state_dim, num_layers "
            "or training.batch_size"
        )


def concurrency(cfg: RunConfig, cluster: ClusterOptions) -> int:
    """Trials at once: search.max_concurrent_trials, or as many as the cluster's CPUs (GPUs) hold, counting
    the nodes an autoscaler may add (Tune's pending trials are what makes it add them). The resources
    themselves were checked by connect()."""
    available = capacity(ray.cluster_resources(), node_types())
    if cfg.search.max_concurrent_trials:
        return cfg.search.max_concurrent_trials
    fits = int(available.get("CPU", 0) // (cluster.num_workers * cluster.cpus_per_worker))
    if cluster.use_gpu:
        fits = min(fits, int(available.get("GPU", 0) // cluster.num_workers))
    return max(1, min(fits, cfg.search.num_samples))


DRIVER_RESOURCE = "kdssm_driver"  # cluster.yaml gives it to on-demand nodes only: trial drivers never land on spot


def trial_resources(cluster: ClusterOptions, in_trial: bool) -> tune.PlacementGroupFactory:
    """In-trial training holds the worker's CPUs (GPU) itself; a Ray Train trial only drives its workers,
    on a node that advertises DRIVER_RESOURCE where the cluster has one (a driver lost with a spot node
    would take its whole run down)."""
    if in_trial:
        return tune.PlacementGroupFactory(
            [{"CPU": cluster.cpus_per_worker, "memory": TRIAL_MEMORY, **({"GPU": 1} if cluster.use_gpu else {})}]
        )
    pinned = {DRIVER_RESOURCE: 0.001} if DRIVER_RESOURCE in capacity(ray.cluster_resources(), node_types()) else {}
    return tune.PlacementGroupFactory([{"CPU": 0, "memory": TRIAL_MEMORY, **pinned}])


def tune_storage(save_dir: Path, cluster: ClusterOptions) -> str:
    """Where Tune keeps the experiment: --storage_path (shared storage, s3:// on a cluster) or save_dir/tune."""
    if cluster.storage_path:
        return resolve_storage(cluster.storage_path, save_dir) + "/" + TUNE
    return str((save_dir / TUNE).resolve())
