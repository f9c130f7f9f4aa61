"""Batch focusing through Ray Data (2 actors on a local Ray) equals the local path exactly."""

import numpy as np
import pytest

from kdssm.data.scene import simulate_scene
from kdssm.deploy.focus import FocusRequest, focus_file

from .models import MINI, gated_student, saved


@pytest.mark.slow
def test_ray_data_path_equals_the_local_path(ray_local, tmp_path):
    scene = simulate_scene(MINI, 600, 40, seed=8)
    source = tmp_path / "scene.npz"
    np.savez(source, raw=scene["raw"], slant_range_m=scene["slant_range_m"])
    student = saved(gated_student(), tmp_path / "student")
    local = focus_file(
        FocusRequest(student, source, tmp_path / "local.npz", batch_columns=8, compare="matched_filter"), progress=False
    )
    on_ray = focus_file(
        FocusRequest(
            student,
            source,
            tmp_path / "ray.npz",
            batch_columns=8,
            compare="matched_filter",
            address="auto",
            num_actors=2,
        ),
        progress=False,
    )
    a, b = np.load(local["output"]), np.load(on_ray["output"])
    assert set(a.files) == set(b.files)
    assert np.array_equal(a["focused"], b["focused"]) and np.array_equal(a["matched_filter"], b["matched_filter"])
    assert on_ray["columns"] == 40 and on_ray["columns_per_second"] > 0
