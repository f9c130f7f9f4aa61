"""Teacher work done once: its outputs and coupled features per data split, cached on disk.

The key hashes the teacher checkpoint's bytes, the split's identity (preset, seed and size, or
the .npz file's bytes) and the coupled layers, so a new teacher, new data or other layers never
reuse stale targets. The columns are used as stored (no augmentation exists in this pipeline);
anything that changes them must change the split identity.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..checkpoint import atomic_write


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def split_identity(data_cfg, which: str) -> str:
    """A string that changes whenever the split's columns change."""
    npz = getattr(data_cfg, f"{which}_npz")
    if npz:
        return f"npz:{file_sha256(npz)}"
    identity = f"sim:{data_cfg.preset}:{getattr(data_cfg, f'{which}_seed')}:{getattr(data_cfg, f'{which}_size')}"
    stated = data_cfg.stated_geometry()
    return identity + (f":{sorted(stated.items())}" if stated else "")


def cache_key(teacher_sha: str, split_id: str, layers: list[int], with_features: bool) -> str:
    text = f"{teacher_sha}|{split_id}|{sorted(layers) if with_features else 'outputs-only'}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class TeacherTargets:
    outputs: torch.Tensor  # (N, L, 1) complex64
    features: dict[int, torch.Tensor]  # layer -> (N, L, Ht) complex64; empty when not cached


@torch.no_grad()
def run_teacher(teacher: torch.nn.Module, x: torch.Tensor, layers: list[int], with_features: bool,
                batch_size: int = 64) -> TeacherTargets:
    """The eval-mode teacher's outputs and selected features over x (N, L, 2), batched, on CPU."""
    teacher.eval()
    device = next(teacher.parameters()).device
    outs, feats = [], {i: [] for i in layers} if with_features else {}
    for start in range(0, x.shape[0], batch_size):
        y, f = teacher(x[start:start + batch_size].to(device), return_features=True)
        outs.append(y.cpu())
        for i in feats:
            feats[i].append(f[i].cpu())
    return TeacherTargets(torch.cat(outs), {i: torch.cat(v) for i, v in feats.items()})


def feature_bytes(n: int, length: int, width: int, layers: int) -> int:
    return n * length * width * layers * 8  # complex64


def load_or_compute(cache_dir: Path, teacher: torch.nn.Module, teacher_sha: str, split_id: str,
                    x: torch.Tensor, layers: list[int], with_features: bool) -> tuple[TeacherTargets, bool]:
    """Cached targets for this teacher and split if present, else computed and stored. (targets, hit)."""
    key = cache_key(teacher_sha, split_id, layers, with_features)
    path = cache_dir / f"{key}.pt"
    if path.is_file():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload["outputs"].shape[0] == x.shape[0]:
                return TeacherTargets(payload["outputs"], dict(payload["features"])), True
        except Exception:  # a damaged cache entry is recomputed, never trusted
            pass
    targets = run_teacher(teacher, x, layers, with_features)
    payload = {"outputs": targets.outputs, "features": targets.features}
    atomic_write(path, lambda tmp: torch.save(payload, tmp))
    return targets, False
