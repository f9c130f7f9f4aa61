"""A run whose loss becomes NaN stops with a message and keeps its last good checkpoint."""

import torch

from kdssm.cli import main

from ..helpers import SMALL_SPLITS, TINY_TRAIN, flags, sets

ARGS = [
    "train",
    *flags(**TINY_TRAIN, train_size=256, **SMALL_SPLITS, batch_size=16, quiet=True, max_minutes=0, num_epochs=30),
    *flags(learning_rate=300, ssm_learning_rate=300),
    *sets(grad_clip=0, warmup_fraction=0.5),
]


def test_diverging_run_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*ARGS, "--save_dir", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "training loss became nan" in err and "last good checkpoint" in err and "\n" not in err
    diverged_at = int(err.split("at step ")[1].split(";")[0])
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert 0 < last["global_step"] < diverged_at  # written by a good epoch before the divergence
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values())
    assert not (run / "summary.json").exists() and not (run / "model.ckpt").exists()
