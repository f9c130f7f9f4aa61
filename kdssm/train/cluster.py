"""Where distributed work runs: the Ray address, the workers asked for, and the storage for checkpoints.

Every check here happens before anything starts, and each failure is one line naming the flag.
"""

from __future__ import annotations

import logging
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import ray

from .. import interrupts
from ..ray_local import start_local_ray
from .rundir import writable_folder


class DistributedError(ValueError):
    """A cluster, address or storage path that cannot be used as asked; one line naming the flag."""


@dataclass(frozen=True)
class ClusterOptions:
    num_workers: int = 1  # Ray Train workers (data-parallel ranks)
    use_gpu: bool = False  # one GPU per worker, nccl; otherwise gloo on CPU
    address: str | None = None  # None: a local Ray in this process; "auto"; "host:port"; "ray://host:port"
    storage_path: str | None = None  # checkpoints of the Ray run; None: <save_dir>/ray; a folder or a URI (s3://)
    max_failures: int = 2  # worker-group restarts from the latest checkpoint before giving up
    cpus_per_worker: int = 1  # also the worker's torch threads
    placement: str = "PACK"  # Ray placement strategy of the workers (SPREAD puts them on different nodes)
    profile: bool = False  # time Lightning's step phases on rank 0 into summary.json (benchmarks/distributed.py)

    def __post_init__(self):
        if self.num_workers < 1:
            raise DistributedError(f"--num_workers must be at least 1, got {self.num_workers}")
        if self.cpus_per_worker < 1:
            raise DistributedError(f"--cpus_per_worker must be at least 1, got {self.cpus_per_worker}")
        if self.max_failures < -1:
            raise DistributedError(f"--max_failures must be -1 (unlimited) or more, got {self.max_failures}")


def _host_port(address: str) -> tuple[str, int]:
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if not parsed.hostname or parsed.port is None:
        raise DistributedError(f"--address {address}: expected auto, host:port or ray://host:port")
    return parsed.hostname, parsed.port


def check_address(address: str | None) -> None:
    if address is None or address == "auto":
        return
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as err:
        raise DistributedError(f"--address {address}: cannot reach {host}:{port} ({err.strerror or err})") from None


def connect(opts: ClusterOptions, worker_output: bool = True) -> None:
    """Join (or start) Ray as asked, then check the cluster can hold the workers.

    A Ray already initialised in this process (a library caller, a test, a sweep) is used as it is.
    worker_output false keeps the workers' output in Ray's session logs only (a sweep, whose
    progress lines come from its driver, and whose stopped trials' workers are killed mid-step).
    """
    check_address(opts.address)
    if not ray.is_initialized():
        # Ray's own INFO/WARNING chatter stays in its session logs; errors and our prints reach the terminal.
        quiet = {
            "logging_level": logging.WARNING,
            "log_to_driver": worker_output,
            "logging_config": ray.LoggingConfig(log_level="ERROR"),
        }
        if opts.address is None:
            start_local_ray(**quiet)
        else:
            try:
                ray.init(address=opts.address, **quiet)
            except ConnectionError:
                raise DistributedError(
                    f"--address {opts.address}: no running Ray cluster found "
                    "(start one with `ray start --head` or `ray up cluster.yaml`)"
                ) from None
        interrupts.reclaim()  # SIGTERM ends the run with its `interrupted` line, not Ray's abort
    check_resources(opts, ray.cluster_resources(), node_types())


AUTOSCALER_CONFIG = Path("~/ray_bootstrap_config.yaml")  # what `ray up` leaves on the head node


def node_types(config: Path = AUTOSCALER_CONFIG) -> dict[str, tuple[dict, int]] | None:
    """{node type: (resources of one node, most nodes of it)} from the autoscaler's config on this node
    (the head of a `ray up` cluster, where jobs run), or None where there is no autoscaler."""
    path = Path(config).expanduser()
    if not path.is_file():
        return None
    import yaml

    spec = yaml.safe_load(path.read_text()) or {}
    out = {}
    for name, node in (spec.get("available_node_types") or {}).items():
        most = node.get("max_workers", spec.get("max_workers", 0)) if name != spec.get("head_node_type") else 1
        out[name] = ({k: float(v) for k, v in (node.get("resources") or {}).items()}, int(most))
    return out or None


def capacity(available: dict, types: dict[str, tuple[dict, int]] | None) -> dict:
    """What the cluster can ever hold: with an autoscaler, every node type at its maximum count;
    without one, what is there now."""
    if not types:
        return dict(available)
    total: dict[str, float] = {}
    for resources, most in types.values():
        for key, value in resources.items():
            total[key] = total.get(key, 0.0) + value * most
    return {key: max(total.get(key, 0.0), available.get(key, 0.0)) for key in set(total) | set(available)}


def check_resources(opts: ClusterOptions, available: dict, types: dict[str, tuple[dict, int]] | None = None) -> None:
    """Refuse only what the cluster can never provide: now (no autoscaler), or once the autoscaler has
    added every node it may (types: node_types()); a worker must also fit on one node type."""
    cpus, gpus = (capacity(available, types).get(k, 0) for k in ("CPU", "GPU"))
    where = "the Ray cluster can grow to" if types else "the Ray cluster has"
    need_cpus = opts.num_workers * opts.cpus_per_worker
    if need_cpus > cpus:
        raise DistributedError(
            f"--num_workers {opts.num_workers}: needs {need_cpus:g} CPUs "
            f"({opts.cpus_per_worker} per worker), {where} {cpus:g}"
        )
    if opts.use_gpu and opts.num_workers > gpus:
        raise DistributedError(
            f"--use_gpu with --num_workers {opts.num_workers}: needs {opts.num_workers} GPUs, {where} {gpus:g}"
        )
    if types:
        worker = {"CPU": opts.cpus_per_worker, **({"GPU": 1} if opts.use_gpu else {})}
        if not any(all(res.get(k, 0) >= v for k, v in worker.items()) for res, most in types.values() if most):
            gpu = " with --use_gpu" if opts.use_gpu else ""
            raise DistributedError(
                f"--cpus_per_worker {opts.cpus_per_worker}{gpu}: "
                "no node type of the cluster holds one worker "
                f"({', '.join(f'{n}: {r}' for n, (r, _) in types.items())})"
            )


def check_storage(storage_path: str | None) -> None:
    """An explicit --storage_path must be a writable folder or a URI pyarrow understands."""
    if not storage_path:
        return
    if "://" in storage_path:
        import pyarrow.fs

        try:
            pyarrow.fs.FileSystem.from_uri(storage_path)
        except Exception as err:  # pyarrow raises several types, all meaning "cannot use this URI"
            raise DistributedError(f"--storage_path {storage_path}: {str(err).splitlines()[0]}") from None
        return
    try:
        writable_folder(Path(storage_path).expanduser())
    except OSError as err:
        raise DistributedError(f"--storage_path {storage_path}: not a writable folder ({err.strerror})") from None


def nodes_not_seeing(path: Path, nodes: list[str] | None = None) -> list[str]:
    """The alive Ray nodes (all, or those named) on which path does not exist: a folder on a node's own
    disk is seen by that node alone, a shared one (EFS, NFS) by every node."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    @ray.remote(num_cpus=0)
    def exists(folder: str) -> bool:
        import os

        return os.path.exists(folder)

    ids = nodes or [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
    answers = ray.get(
        [
            exists.options(scheduling_strategy=NodeAffinitySchedulingStrategy(i, soft=False)).remote(str(path))
            for i in ids
        ],
        timeout=120,
    )
    return [i for i, seen in zip(ids, answers) if not seen]


def check_shared_folder(folder: Path, flag: str = "--save_dir") -> None:
    """On a cluster of several nodes, folder must be one every node sees: its trials write there."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    if len(alive) < 2:
        return
    probe = Path(folder) / f".shared-probe-{socket.gethostname()}"
    probe.write_text("")
    try:
        missing = nodes_not_seeing(probe, [n["NodeID"] for n in alive])
    finally:
        probe.unlink(missing_ok=True)
    if missing:
        where = next(n["NodeManagerAddress"] for n in alive if n["NodeID"] == missing[0])
        raise DistributedError(
            f"{flag} {folder}: not visible from node {where} ({len(missing)} of {len(alive)} "
            "nodes); a multi-node sweep needs a folder every node sees (EFS, NFS)"
        )


def resolve_storage(storage_path: str | None, root: Path) -> str:
    """Ray wants an absolute path or a URI."""
    if storage_path and "://" in storage_path:
        return storage_path.rstrip("/")
    return str((Path(storage_path).expanduser() if storage_path else root / "ray").resolve())


def clear_run(storage: str, name: str) -> None:
    """Remove a Ray run of this name from storage (a stale one would be resumed)."""
    if "://" not in storage:
        shutil.rmtree(Path(storage) / name, ignore_errors=True)
        return
    import pyarrow.fs

    fs, base = pyarrow.fs.FileSystem.from_uri(storage)
    if fs.get_file_info(f"{base}/{name}").type != pyarrow.fs.FileType.NotFound:
        fs.delete_dir(f"{base}/{name}")
