"""Cluster flags (`--num_workers`, `--address`, ...) and the choice between a local and a Ray Train run."""

from __future__ import annotations

import argparse

from .parser import nonnegative_int, positive_int


def add_cluster_flags(parser: argparse.ArgumentParser, sweep: bool = False) -> None:
    if sweep:
        group = parser.add_argument_group("cluster (each trial is a Ray Train run of search.workers_per_trial workers)")
    else:
        group = parser.add_argument_group("distributed (Ray Train; without these flags the run stays in this process)")
        group.add_argument(
            "--num_workers",
            "--num-workers",
            type=positive_int,
            default=None,
            help="data-parallel Ray Train workers, each on its own shard of the columns",
        )
    group.add_argument("--use_gpu", "--use-gpu", action="store_true", help="one GPU per worker (nccl)")
    group.add_argument(
        "--address",
        help="Ray cluster: auto, host:port or ray://host:port (default: a local Ray started in this process)",
    )
    group.add_argument(
        "--storage_path",
        "--storage-path",
        help="where Ray keeps the run's epoch checkpoints: a folder, or a URI such as s3://bucket/path "
        "(default: <save_dir>/ray); shared storage for multi-node clusters",
    )
    group.add_argument(
        "--max_failures",
        "--max-failures",
        type=nonnegative_int,
        default=2,
        help="worker-group restarts from the latest checkpoint before giving up (default 2)",
    )
    group.add_argument(
        "--cpus_per_worker",
        "--cpus-per-worker",
        type=positive_int,
        default=1,
        help="CPUs (and torch threads) per worker (default 1)",
    )


def cluster_from_flags(args: argparse.Namespace, num_workers: int = 1):
    """ClusterOptions of the cluster flags, the storage path checked."""
    from ..train.cluster import ClusterOptions, check_storage

    opts = ClusterOptions(
        num_workers=num_workers,
        use_gpu=args.use_gpu,
        address=args.address,
        storage_path=args.storage_path,
        max_failures=args.max_failures,
        cpus_per_worker=args.cpus_per_worker,
    )
    check_storage(opts.storage_path)
    return opts


def cluster_options(args: argparse.Namespace):
    """ClusterOptions when any distributed flag is given (checked, Ray joined), else None (local run)."""
    if args.num_workers is None and not (args.use_gpu or args.address or args.storage_path):
        return None
    from ..train.cluster import connect

    opts = cluster_from_flags(args, 1 if args.num_workers is None else args.num_workers)
    connect(opts)
    return opts


def execute(plan, opts, progress: bool) -> dict:
    """Run a planned training here (opts None) or as a Ray Train run."""
    if opts is None:
        from ..train.runner import execute as execute_here

        return execute_here(plan, progress)
    from ..train.distributed import execute as execute_on_ray

    return execute_on_ray(plan, opts, progress)
