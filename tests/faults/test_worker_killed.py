"""SIGKILL one Ray Train worker mid-epoch: the group restarts from the latest checkpoint and finishes."""

import os
import signal
import threading
import time

import pytest

from kdssm import load_model
from kdssm.config import RunConfig
from kdssm.distill.runner import plan_distillation
from kdssm.train import distributed
from kdssm.train.cluster import ClusterOptions
from kdssm.train.history import read_history

from .helpers import train_worker_pids

EPOCHS = 4


@pytest.mark.slow
def test_killed_worker_resumes_from_last_checkpoint(tmp_path, teacher_run, ray_local, capfd):
    cfg = RunConfig.from_file(teacher_run / "config.yaml").with_overrides(
        {
            "model": {"use_selectivity": False, "model_dim": 3, "state_dim": 8, "num_layers": 2},
            "data": {"train_size": 512},
            "training": {"num_epochs": EPOCHS, "batch_size": 8, "max_minutes": 0},
            "distillation": {"curriculum_epochs": 1},
        }
    )
    run = tmp_path / "run"
    history = run / "history.jsonl"
    seen: set[int] = set()
    killed: list[int] = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            pids = train_worker_pids()
            seen.update(pids)
            if not killed and len(read_history(history)) >= 1 and pids:  # epoch 1 (index 1) under way
                victim = max(pids)
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        summary = distributed.execute(
            plan_distillation(cfg, teacher_run, run), ClusterOptions(num_workers=2), progress=False
        )
    finally:
        done.set()
        watcher.join()
    assert killed, "no worker was killed"
    lost = [line for line in capfd.readouterr().out.splitlines() if "[kdssm] worker rank" in line]
    assert len(lost) == 1 and "lost (" in lost[0] and "restarts from the checkpoint of epoch" in lost[0], lost
    assert "(restart 1 of 2)" in lost[0]
    epochs = [row["epoch"] for row in read_history(history)]
    assert epochs == list(range(EPOCHS)), epochs  # resumed after the last reported epoch: none lost or redone
    assert summary["training"]["epochs"] == EPOCHS
    assert len(seen) > 2, "no replacement workers were started"
    load_model(run / "model.ckpt")
