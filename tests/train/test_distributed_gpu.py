"""Ray Train on a GPU (nccl, one GPU per worker): run where CUDA is present, skipped with the reason elsewhere."""

import pytest
import torch

from kdssm import load_model
from kdssm.config import RunConfig
from kdssm.distill.runner import plan_distillation
from kdssm.train import distributed
from kdssm.train.cluster import ClusterOptions

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def test_gpu_distillation_with_nccl(tmp_path, teacher_run):
    import ray

    from kdssm.ray_local import start_local_ray

    ray.shutdown()
    start_local_ray(num_gpus=1)
    try:
        cfg = RunConfig.from_file(teacher_run / "config.yaml").with_overrides(
            {
                "model": {"use_selectivity": False, "model_dim": 3, "state_dim": 8, "num_layers": 2},
                "training": {"num_epochs": 2, "batch_size": 8, "max_minutes": 0},
            }
        )
        summary = distributed.execute(
            plan_distillation(cfg, teacher_run, tmp_path / "run"),
            ClusterOptions(num_workers=1, use_gpu=True),
            progress=False,
        )
    finally:
        ray.shutdown()
    assert summary["training"]["epochs"] == 2
    load_model(tmp_path / "run" / "model.ckpt", device="cuda")
