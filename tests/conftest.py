"""Shared fixtures: tiny configs and a tiny teacher run folder (real files, real checkpoint)."""

import pytest
import torch

from .helpers import local_ray, teacher_folder

TINY_TEACHER = dict(model_dim=6, state_dim=16, num_layers=3, use_selectivity=True, range_conditioning=True, dropout=0.1)
TINY_DATA = dict(preset="mini", train_size=64, val_size=32, test_size=32)


@pytest.fixture(scope="session")
def teacher_run(tmp_path_factory):
    """A teacher run folder (config.yaml, model.ckpt) with an untrained tiny gated teacher."""
    root = tmp_path_factory.mktemp("teacher")
    torch.manual_seed(0)
    teacher_folder(root, TINY_TEACHER, TINY_DATA)
    return root


@pytest.fixture
def ray_local():
    """One local Ray shared by the tests that need it (helpers.local_ray)."""
    yield local_ray()


@pytest.fixture(scope="session", autouse=True)
def _stop_ray_at_end():
    yield
    import sys

    if "ray" in sys.modules:
        import ray

        ray.shutdown()
