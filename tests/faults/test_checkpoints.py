import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

import kdssm
from kdssm.checkpoint import CheckpointError, content_digest, load_model, save_model
from kdssm.config import ModelConfig
from kdssm.data import simulate
from kdssm.models import SarSSM

TINY = dict(model_dim=4, state_dim=8, num_layers=2)


def test_round_trip_reproduces_outputs(tmp_path):
    model = SarSSM(**TINY, range_conditioning=True).eval()
    save_model(model, tmp_path / "model.ckpt", "teacher")
    loaded = kdssm.load_model(tmp_path)  # a folder holding model.ckpt works too
    assert not loaded.training
    x, _ = simulate("mini", 2, 0)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_truncated_checkpoint_names_the_file(tmp_path):
    save_model(SarSSM(**TINY), tmp_path / "model.ckpt", "teacher")
    data = (tmp_path / "model.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.ckpt: not a readable kdssm checkpoint"):
        load_model(tmp_path / "cut.ckpt")


def test_foreign_files_are_refused(tmp_path):
    (tmp_path / "text.ckpt").write_text("hello")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="text.ckpt"):
        load_model(tmp_path / "text.ckpt")
    with pytest.raises(CheckpointError, match="other.ckpt: not a kdssm model checkpoint"):
        load_model(tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_model(tmp_path / "absent.ckpt")


def test_unsafe_pickle_is_refused(tmp_path):
    torch.save({"format": "kdssm-model", "obj": ModelConfig()}, tmp_path / "pickle.ckpt")
    with pytest.raises(CheckpointError, match="pickle.ckpt"):
        load_model(tmp_path / "pickle.ckpt")


def test_architecture_mismatch_names_the_field(tmp_path):
    save_model(SarSSM(**TINY), tmp_path / "model.ckpt", "teacher")
    with pytest.raises(CheckpointError, match="model.model_dim = 4, the config says 8"):
        load_model(tmp_path / "model.ckpt", expect=ModelConfig(**{**TINY, "model_dim": 8}))
    payload = torch.load(tmp_path / "model.ckpt", weights_only=True)
    payload["config"]["model_dim"] = 5
    torch.save(payload, tmp_path / "edited.ckpt")
    with pytest.raises(CheckpointError, match="edited.ckpt: content does not match its SHA-256"):
        load_model(tmp_path / "edited.ckpt")
    payload["sha256"] = content_digest(payload["config"], payload["state_dict"])  # edited with care
    torch.save(payload, tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match="weights do not match"):
        load_model(tmp_path / "bad.ckpt")


def test_flipped_bytes_in_the_weights_are_refused_by_name(tmp_path):
    """200 bytes flipped inside a weight's storage: torch still loads the file, the digest refuses it."""
    save_model(SarSSM(**TINY), tmp_path / "model.ckpt", "teacher")
    data = bytearray((tmp_path / "model.ckpt").read_bytes())
    weight = torch.load(tmp_path / "model.ckpt", weights_only=True)["state_dict"]["layers.0.conv.c"]
    start = bytes(data).find(weight.numpy().tobytes()[:64])  # the tensor's bytes inside the zip record
    assert start > 0
    for i in range(start, start + 200):
        data[i] ^= 0xFF
    (tmp_path / "flipped.ckpt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="flipped.ckpt: (content does not match|not a readable)"):
        load_model(tmp_path / "flipped.ckpt")


def test_non_finite_weights_are_refused(tmp_path):
    model = SarSSM(**TINY)
    with torch.no_grad():
        model.layers[1].conv.c[0, 0, 0, 0] = float("nan")
    save_model(model, tmp_path / "model.ckpt", "teacher")
    with pytest.raises(CheckpointError, match="weight layers.1.conv.c holds NaN or Inf"):
        load_model(tmp_path)


def test_checkpoints_written_before_the_digest_still_load(tmp_path):
    model = SarSSM(**TINY)
    save_model(model, tmp_path / "model.ckpt", "teacher")
    payload = torch.load(tmp_path / "model.ckpt", weights_only=True)
    payload["version"] = 1
    del payload["sha256"]
    torch.save(payload, tmp_path / "old.ckpt")
    load_model(tmp_path / "old.ckpt")


def test_kill_during_save_leaves_the_old_checkpoint(tmp_path):
    """SIGKILL a process in the middle of writing model.ckpt: the previous file stays loadable."""
    target = tmp_path / "model.ckpt"
    save_model(SarSSM(**TINY), target, "teacher")
    before = target.read_bytes()
    script = textwrap.dedent(f"""
        import os, signal, torch
        from kdssm.checkpoint import save_model
        from kdssm.models import SarSSM
        real_save = torch.save
        def slow_save(obj, f):
            with open(f, "wb") as fh:
                fh.write(b"partial")
                fh.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        torch.save = slow_save
        save_model(SarSSM(model_dim=8, state_dim=8, num_layers=2), {str(target)!r}, "teacher")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == before
    load_model(target)
    leftovers = [p for p in os.listdir(tmp_path) if p != "model.ckpt"]
    assert all(name.endswith(".tmp") for name in leftovers)  # at most a stray temp file, never a torn ckpt
