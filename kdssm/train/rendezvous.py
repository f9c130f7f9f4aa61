"""The process-group rendezvous of Ray Train workers: a file on this machine when Ray is local, TCP otherwise.

Ray Train's TorchConfig meets its workers at a torch.distributed TCP store that rank 0 opens, and torch
gives that store's server no bind address: it listens on every interface, so a local 2-worker run
would open a port another machine can reach. When rank 0's node address is the loopback (a Ray started
by `kdssm.ray_local`, whose nodes are all this machine) the workers meet at a FileStore instead, a
fresh file in a private (0700) temporary folder, removed when the group shuts down; no socket is
opened for the rendezvous. On a cluster the address is routable and Ray Train's TCP rendezvous is
kept (the cluster's security group is the fence there, see cluster.yaml).
"""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ray
from ray.train._internal.utils import get_address_and_port
from ray.train.torch import TorchConfig
from ray.train.torch.config import _set_torch_distributed_env_vars, _setup_torch_process_group, _TorchBackend

PREFIX = "kdssm-rendezvous-"  # + the run's name + a random suffix, in this machine's temporary folder


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and an IPv4-mapped loopback; False for a name or a routable address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


class _LocalFileBackend(_TorchBackend):
    """Ray Train's torch backend with a file rendezvous when every worker is on this machine."""

    def on_start(self, worker_group, backend_config: LocalRendezvousConfig) -> None:
        master_addr, _ = worker_group.execute_single(0, get_address_and_port)
        if not is_loopback(master_addr):
            super().on_start(worker_group, backend_config)
            return
        remove_rendezvous(backend_config.run)  # a restarted group (a worker was lost) meets at a new, empty file
        folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{backend_config.run}-"))  # mode 0700
        url = (folder / "store").as_uri()
        worker_group.execute(_set_torch_distributed_env_vars)
        ray.get(
            [
                worker_group.execute_single_async(
                    rank,
                    _setup_torch_process_group,
                    backend=backend_config.backend,
                    world_rank=rank,
                    world_size=len(worker_group),
                    init_method=url,
                    timeout_s=backend_config.timeout_s,
                )
                for rank in range(len(worker_group))
            ]
        )

    def on_shutdown(self, worker_group, backend_config: LocalRendezvousConfig) -> None:
        try:
            super().on_shutdown(worker_group, backend_config)
        finally:
            remove_rendezvous(backend_config.run)


@dataclass
class LocalRendezvousConfig(TorchConfig):
    """TorchConfig whose workers meet at a file when Ray is local (no socket), over TCP on a cluster.

    `backend` must be named (gloo on CPU, nccl on GPU): the file path skips Ray's guess from resources.
    `run` names the rendezvous folders, so the driver removes them when the run ends (remove_rendezvous).
    """

    run: str = "run"

    @property
    def backend_cls(self):
        return _LocalFileBackend


def remove_rendezvous(run: str) -> None:
    """Remove the rendezvous folders of `run` left in this machine's temporary folder (a local Ray's
    controller runs here; its group's shutdown may not have removed them when the driver returns)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}{run}-*"):
        shutil.rmtree(folder, ignore_errors=True)
