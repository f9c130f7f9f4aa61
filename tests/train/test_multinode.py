"""A 2-worker distillation across the two nodes of a ray.cluster_utils.Cluster on this machine."""

import pytest

from kdssm import load_model
from kdssm.config import RunConfig
from kdssm.distill.runner import plan_distillation
from kdssm.train import distributed
from kdssm.train.cluster import ClusterOptions, check_shared_folder, connect, nodes_not_seeing


@pytest.mark.slow
def test_two_node_distillation(tmp_path, teacher_run):
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()  # leave the shared local Ray; the next test that needs it starts it again
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        opts = ClusterOptions(num_workers=2, address=cluster.address, placement="SPREAD")
        connect(opts)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        check_shared_folder(tmp_path)  # both nodes see this machine's disk: a sweep may write there
        assert nodes_not_seeing(tmp_path / "elsewhere") and not list(tmp_path.iterdir())
        cfg = RunConfig.from_file(teacher_run / "config.yaml").with_overrides(
            {
                "model": {"use_selectivity": False, "model_dim": 3, "state_dim": 8, "num_layers": 2},
                "training": {"num_epochs": 2, "batch_size": 8, "max_minutes": 0},
            }
        )
        summary = distributed.execute(plan_distillation(cfg, teacher_run, tmp_path / "run"), opts, progress=False)
    finally:
        ray.shutdown()
        cluster.shutdown()
    # one CPU per node and one per worker: the two ranks can only run on different nodes
    assert summary["training"]["nodes"] == 2
    assert summary["training"]["epochs"] == 2
    load_model(tmp_path / "run" / "model.ckpt")
