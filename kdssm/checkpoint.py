"""model.ckpt: a model's config and weights, written atomically, read with weights_only=True.

Each file carries the SHA-256 of its config and weights (`content_digest`), checked on every load, so a
flipped byte is refused by name instead of scoring as a worse model; NaN or Inf weights are refused too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .config import ConfigError, ModelConfig
from .files import atomic_write, model_file
from .models import build_model

FORMAT = "kdssm-model"
VERSION = 2  # 2: with the content digest
READABLE_VERSIONS = (1, 2)  # 1: written before the digest; read without that check


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is one line naming the file."""


def content_digest(config: dict, state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the config (canonical JSON) and every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def save_model(model: torch.nn.Module, path: str | Path, kind: str, extra: dict | None = None) -> None:
    """Write `model` (a SarSSM) as model.ckpt with its config embedded and its content digest."""
    config = model.config.to_dict()
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "config": config,
        "state_dict": state_dict,
        "sha256": content_digest(config, state_dict),
        "extra": extra or {},
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def read_checkpoint(path: str | Path) -> dict:
    """The raw payload of a model.ckpt, checked for format; errors name the file."""
    path = model_file(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, foreign or unsafe pickles all land here
        raise CheckpointError(f"{path}: not a readable kdssm checkpoint ({type(err).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a kdssm model checkpoint")
    if payload.get("version") not in READABLE_VERSIONS:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} is not supported")
    _check_content(path, payload)
    return payload


def _check_content(path: Path, payload: dict) -> None:
    """The digest (version 2 on) and finite weights; errors name the file and what is wrong."""
    state_dict, config = payload.get("state_dict"), payload.get("config")
    if not isinstance(state_dict, dict) or not isinstance(config, dict):
        raise CheckpointError(f"{path}: not a kdssm model checkpoint (no config or weights)")
    if not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(f"{path}: not a kdssm model checkpoint (weights that are not tensors)")
    if payload["version"] >= 2 and payload.get("sha256") != content_digest(config, state_dict):
        raise CheckpointError(f"{path}: content does not match its SHA-256 (the file is corrupted or was edited)")
    for name, tensor in state_dict.items():
        if (tensor.is_floating_point() or tensor.is_complex()) and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: weight {name} holds NaN or Inf values; this model cannot be used")


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
            if got != want:
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
