"""cluster.yaml is a Ray cluster-launcher file that Ray's own schema accepts, set up to run this project."""

import pathlib
import re

import ray
import yaml

import kdssm

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


def test_cluster_yaml_runs_the_baked_image_on_autoscaling_gpu_workers():
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    head = config["head_node_type"]
    workers = [t for name, t in config["available_node_types"].items() if name != head]
    assert any(t["resources"].get("GPU", 0) >= 1 and t["max_workers"] > t["min_workers"] for t in workers)
    # the image of this version of kdssm; nodes install only the mounted code, nothing from an index
    assert config["docker"]["image"].endswith(f"/kdssm:{kdssm.__version__}")
    setup = config["setup_commands"] + config.get("head_setup_commands", []) + config.get("worker_setup_commands", [])
    assert setup == ["pip install --no-deps -e ~/kdssm"]
    assert config["file_mounts"]["~/kdssm/configs"] == "./configs"
    assert "127.0.0.1" in " ".join(config["head_start_ray_commands"])  # MLflow binds to loopback


def test_dockerfile_bakes_the_pinned_dependencies_on_rays_image():
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM rayproject/ray:(\d+\.\d+)\.\d+-py3(\d+)-gpu$", text, re.M)
    assert base, "the image starts from Ray's GPU image"
    pyproject = (ROOT / "pyproject.toml").read_text()
    ray_pin = re.search(r'"ray\[[a-z,]+\]>=(\d+\.\d+),', pyproject).group(1)
    assert base.group(1) == ray_pin and ray.__version__.startswith(ray_pin)  # the Ray minor CI tests
    python = re.search(r'requires-python = ">=3\.(\d+)"', pyproject).group(1)
    assert int(base.group(2)) >= int(python)
    run = text[text.index("RUN ") :]
    assert run.index("torch==2.13.0") < run.index("/tmp/kdssm")  # torch first, as in the README
    assert "s3fs" in run  # the head writes Tune's experiment to s3://
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] == "ray" and "root" not in users and "0" not in users  # never root, said explicitly
    assert text.index("USER ray") < text.index("RUN ")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "runs"} <= set(ignored)  # the build context stays small


def test_cluster_nodes_admit_only_each_other_besides_ssh():
    """Ray's ports (GCS 6379, raylets, object store, workers) bind to each node's address: the security
    group declared for every node admits only its own members; a rule open to the world is refused."""
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    group = config["provider"]["security_group"]
    assert group["GroupName"]
    for rule in group.get("IpPermissions", []):
        ranges = [r["CidrIp"] for r in rule.get("IpRanges", [])] + [r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])]
        assert not {"0.0.0.0/0", "::/0"} & set(ranges), rule
    starts = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in starts  # the dashboard on the head's loopback only
    assert "mlflow server --host 127.0.0.1" in starts
