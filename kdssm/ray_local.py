"""A Ray on this machine only: every server bound to 127.0.0.1 (the distributed layer and deploy start it).

Ray is imported when a Ray is started, not with this module.
"""

from __future__ import annotations


def start_local_ray(**options) -> None:
    """ray.init of a Ray on this machine only, every server bound to 127.0.0.1 (no dashboard).

    Ray binds its servers (GCS, raylets, workers, the driver) to all interfaces unless the node's IP is
    the loopback, and on Linux it turns a requested 127.0.0.1 into the machine's address; only with its
    single-machine mode (what it uses on macOS and Windows) does the node stay on 127.0.0.1. A local Ray
    then listens on no port another machine can reach (tests/train/test_loopback.py checks with ss).
    """
    import ray
    from ray._private import ray_constants

    cluster_mode = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False  # read by ray._private.services.get_node_ip_address at init
    try:
        ray.init(include_dashboard=False, **options)
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = cluster_mode
