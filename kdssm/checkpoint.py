"""model.ckpt: a model's config and weights, written atomically, read with weights_only=True."""

from __future__ import annotations

from pathlib import Path

import torch

from .config import ConfigError, ModelConfig
from .files import atomic_write
from .models import build_model

FORMAT = "kdssm-model"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file."""


def save_model(model: torch.nn.Module, path: str | Path, kind: str, extra: dict | None = None) -> None:
    """Write `model` (a SarSSM) as model.ckpt with its config embedded."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": extra or {},
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def read_checkpoint(path: str | Path) -> dict:
    """The raw payload of a model.ckpt, checked for format; errors name the file."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.ckpt"
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, foreign or unsafe pickles all land here
        raise CheckpointError(f"{path}: not a readable kdssm checkpoint ({type(err).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a kdssm model checkpoint")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} is not supported")
    return payload


def load_model(
    path: str | Path, device: str | torch.device = "cpu", expect: ModelConfig | None = None
) -> torch.nn.Module:
    """The model in a model.ckpt (or a run folder holding one), in eval mode on `device`.

    With `expect`, a checkpoint whose architecture differs names the first differing field.
    """
    payload = read_checkpoint(path)
    try:
        config = ModelConfig.from_dict(payload["config"])
    except ConfigError as err:
        raise CheckpointError(f"{path}: embedded config is invalid ({err})") from None
    if expect is not None:
        for key, want in expect.to_dict().items():
            got = getattr(config, key)
            if key != "kernel" and got != want:
                raise CheckpointError(f"{path}: checkpoint has model.{key} = {got!r}, the config says {want!r}")
    model = build_model(config, initialise=False)  # every weight comes from the file
    try:
        result = model.load_state_dict(payload["state_dict"], strict=False)
    except RuntimeError:  # a tensor of the wrong shape
        raise CheckpointError(f"{path}: weights do not match the embedded architecture (shapes differ)") from None
    if result.missing_keys or result.unexpected_keys:
        names = (result.missing_keys + result.unexpected_keys)[:3]
        raise CheckpointError(f"{path}: weights do not match the embedded architecture ({', '.join(names)})")
    return model.to(device).eval()
