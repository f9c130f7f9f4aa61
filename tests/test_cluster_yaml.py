"""cluster.yaml is a Ray cluster-launcher file that Ray's own schema accepts, set up to run this project."""

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_cluster_yaml_is_valid_against_rays_schema():
    import json

    import jsonschema
    import ray.autoscaler
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    schema = json.loads((pathlib.Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)  # the file as written: unknown or malformed fields fail here
    validate_config(prepare_config(config))  # what `ray up` checks after filling the provider's defaults


def test_cluster_yaml_installs_this_project_on_autoscaling_gpu_workers():
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    head = config["head_node_type"]
    workers = [t for name, t in config["available_node_types"].items() if name != head]
    assert any(t["resources"].get("GPU", 0) >= 1 and t["max_workers"] > t["min_workers"] for t in workers)
    setup = " ".join(config["setup_commands"])
    assert "torch==2.13.0" in setup and "pip install -e ~/kdssm" in setup
    assert setup.index("torch==2.13.0") < setup.index("pip install -e ~/kdssm")  # torch first, as in the README
    assert config["file_mounts"]["~/kdssm/configs"] == "./configs"
    assert "127.0.0.1" in " ".join(config["head_start_ray_commands"])  # MLflow binds to loopback
