"""Ray Train data parallelism: equivalence with one worker, per-epoch history, output contract."""

import json
import pathlib

import pytest

from kdssm import load_model
from kdssm.config import RunConfig
from kdssm.train import distributed, runner
from kdssm.train.cluster import (
    ClusterOptions,
    DistributedError,
    capacity,
    check_resources,
    check_shared_folder,
    node_types,
    nodes_not_seeing,
)
from kdssm.train.history import read_history
from kdssm.train.runner import plan_training

from ..helpers import CONTRACT_KEYS

ROOT = pathlib.Path(__file__).resolve().parents[2]

STUDENT = dict(model_dim=4, state_dim=8, num_layers=2, use_selectivity=False, dropout=0.0)


def tiny(batch_size: int, epochs: int = 1, **training) -> RunConfig:
    return RunConfig.from_dict(
        {
            "model": STUDENT,
            "data": dict(preset="mini", train_size=64, val_size=32, test_size=32),
            "training": dict(
                num_epochs=epochs,
                batch_size=batch_size,
                loss="mse",
                valid_weight=0.0,
                learning_rate=3e-3,
                warmup_fraction=0.0,
                max_minutes=0,
                **training,
            ),
        }
    )


@pytest.mark.slow
def test_two_workers_match_one_worker_with_twice_the_batch(tmp_path, ray_local):
    """2 workers x batch 8 against 1 worker x batch 16 on the same 64 columns, 4 steps.

    With the mse loss (a mean over equal-sized shards) and DDP averaging gradients, the two runs
    take the same steps in exact arithmetic: DistributedSampler gives rank r the columns r, r+2, ...
    of one seeded permutation, so the two half-batches together are the single worker's batch.
    What differs is float32 summation order (~1e-7 relative per reduction); through 4 Adam steps
    that stays far below 1e-4 relative in the weights and 1e-3 dB in the validation NMSE. A real
    mismatch (a rank on the wrong shard, an unreduced gradient, a schedule off by the world size)
    moves the weights by more than 1e-2.
    """
    one = distributed.execute(
        plan_training(tiny(16), tmp_path / "one", kind="student"), ClusterOptions(num_workers=1), progress=False
    )
    two = distributed.execute(
        plan_training(tiny(8), tmp_path / "two", kind="student"), ClusterOptions(num_workers=2), progress=False
    )
    a = load_model(tmp_path / "one" / "model.ckpt").state_dict()
    b = load_model(tmp_path / "two" / "model.ckpt").state_dict()
    for name in a:
        scale = a[name].abs().max().clamp_min(1e-3)
        assert (a[name] - b[name]).abs().max() / scale < 1e-4, name
    assert abs(one["training"]["best_value"] - two["training"]["best_value"]) < 1e-3
    assert two["training"]["workers"] == 2 and one["training"]["workers"] == 1
    # a run in this process (a sweep's in-trial student) takes the one worker's steps: the same order of columns
    runner.execute(plan_training(tiny(16), tmp_path / "local", kind="student"), progress=False)
    c = load_model(tmp_path / "local" / "model.ckpt").state_dict()
    for name in a:
        scale = a[name].abs().max().clamp_min(1e-3)
        assert (a[name] - c[name]).abs().max() / scale < 1e-4, name


@pytest.mark.slow
def test_distributed_run_writes_the_output_contract_and_history(tmp_path, ray_local):
    summary = distributed.execute(
        plan_training(tiny(8, epochs=3), tmp_path / "run", kind="student"),
        ClusterOptions(num_workers=2),
        progress=False,
    )
    run = tmp_path / "run"
    stored = json.loads((run / "summary.json").read_text())
    assert set(stored) >= set(CONTRACT_KEYS)
    assert summary["training"]["epochs"] == 3
    history = read_history(run / "history.jsonl")
    assert [row["epoch"] for row in history] == [0, 1, 2]
    assert all("val_nmse_db" in row and "val_accuracy" in row for row in history)
    best = min(history, key=lambda row: row["val_objective_db"])  # what checkpoints are chosen on
    assert summary["training"]["selected_on"] == "val_objective_db"
    assert summary["training"]["best_value"] == pytest.approx(best["val_objective_db"])
    assert summary["training"]["best_epoch"] == best["epoch"]
    assert list((run / "logs").glob("version_*/metrics.csv"))  # rank 0 shares the driver's node here
    load_model(run / "model.ckpt")


def test_resource_check_names_what_is_missing():
    with pytest.raises(DistributedError, match="needs 4 CPUs .* has 2"):
        check_resources(ClusterOptions(num_workers=2, cpus_per_worker=2), {"CPU": 2.0})
    with pytest.raises(DistributedError, match="needs 2 GPUs, the Ray cluster has 1"):
        check_resources(ClusterOptions(num_workers=2, use_gpu=True), {"CPU": 8.0, "GPU": 1.0})
    check_resources(ClusterOptions(num_workers=2, use_gpu=True), {"CPU": 2.0, "GPU": 2.0})
    with pytest.raises(DistributedError, match="--num_workers must be at least 1"):
        ClusterOptions(num_workers=0)


def test_an_autoscaling_cluster_is_judged_by_what_it_can_grow_to():
    """cluster.yaml's node types (the autoscaler's config on the head): with one GPU node up now, a 4-GPU
    run is allowed (the autoscaler adds nodes for it); 9 GPUs or a 16-CPU worker can never fit."""
    types = node_types(ROOT / "cluster.yaml")
    assert types["gpu_worker"] == ({"CPU": 8.0, "GPU": 1.0}, 8) and types["head"][1] == 1
    now = {"CPU": 8.0, "GPU": 1.0}
    check_resources(ClusterOptions(num_workers=4, use_gpu=True), now, types)
    with pytest.raises(DistributedError, match="needs 9 GPUs, the Ray cluster can grow to 8"):
        check_resources(ClusterOptions(num_workers=9, use_gpu=True), now, types)
    with pytest.raises(DistributedError, match="--cpus_per_worker 16 with --use_gpu: no node type .* holds one"):
        check_resources(ClusterOptions(num_workers=1, cpus_per_worker=16, use_gpu=True), now, types)
    assert node_types(ROOT / "no-such-file.yaml") is None
    assert capacity(now, None) == now and capacity(now, types)["GPU"] == 8.0


def test_a_folder_is_shared_only_if_every_node_sees_it(ray_local, tmp_path):
    """What a sweep's --save_dir check asks each node: a folder one node lacks is what a node's own disk
    looks like from the others; on one machine every node sees tmp_path."""
    assert nodes_not_seeing(tmp_path) == []
    alive = [n["NodeID"] for n in ray_local.nodes() if n["Alive"]]
    assert nodes_not_seeing(tmp_path / "only-on-some-other-disk") == alive
    check_shared_folder(tmp_path)  # one node: nothing to compare
    assert not list(tmp_path.iterdir())  # the probe is gone


def test_run_name_is_stable_per_folder(tmp_path):
    assert distributed.run_name(tmp_path / "a") == distributed.run_name(tmp_path / "a")
    assert distributed.run_name(tmp_path / "a") != distributed.run_name(tmp_path / "b" / "a")
