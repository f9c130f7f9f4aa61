"""Teacher work done once: its outputs and coupled features per data split, cached on disk.

The key hashes what the targets depend on: the teacher checkpoint's bytes, the columns themselves
(x, and y where present: a changed simulator or file changes the key, whatever its seed or name),
the code that runs the teacher (kdssm's version and the source of its models and geometry) and the
coupled layers. A cached entry is used only if its outputs and features have the shapes, dtype and
layers asked for; anything else is recomputed and never trusted.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..files import atomic_write
from ..inference import infer


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def split_identity(x: torch.Tensor, y: torch.Tensor | None = None) -> str:
    """sha256 of the columns' bytes: x (N, L, 2) complex64 and, for labelled columns, y (N, L, 1)."""
    digest = hashlib.sha256()
    for tensor in (x, y):
        if tensor is not None:
            digest.update(str((tuple(tensor.shape), str(tensor.dtype))).encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@functools.cache
def code_identity() -> str:
    """kdssm's version and a hash of the source of everything the teacher's forward runs (read once per
    process: the code a process runs is the code it imported)."""
    import kdssm

    root = Path(kdssm.__file__).resolve().parent
    digest = hashlib.sha256(kdssm.__version__.encode())
    for path in sorted([*(root / "models").glob("*.py"), *(root / "config").glob("*.py"), root / "geometry.py"]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(
    teacher_sha: str, split_id: str, layers: list[int], with_features: bool, code_id: str | None = None
) -> str:
    code_id = code_identity() if code_id is None else code_id
    text = f"{teacher_sha}|{split_id}|{code_id}|{sorted(layers) if with_features else 'outputs-only'}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class TeacherTargets:
    outputs: torch.Tensor  # (N, L, 1) complex64
    features: dict[int, torch.Tensor]  # layer -> (N, L, Ht) complex64; empty when not cached


@torch.no_grad()
def run_teacher(
    teacher: torch.nn.Module, x: torch.Tensor, layers: list[int], with_features: bool, batch_size: int = 64
) -> TeacherTargets:
    """The eval-mode teacher's outputs and selected features over x (N, L, 2), batched, on CPU."""
    teacher.eval()
    device = next(teacher.parameters()).device
    outs, feats = [], {i: [] for i in layers} if with_features else {}
    for start in range(0, x.shape[0], batch_size):
        y, f = infer(teacher, x[start : start + batch_size].to(device), return_features=True)
        outs.append(y.cpu())
        for i in feats:
            feats[i].append(f[i].cpu())
    return TeacherTargets(torch.cat(outs), {i: torch.cat(v) for i, v in feats.items()})


def feature_bytes(n: int, length: int, width: int, layers: int) -> int:
    return n * length * width * layers * 8  # complex64


def _usable(payload, n: int, length: int, layers: list[int], with_features: bool) -> bool:
    """A cached payload with the outputs (N, L, 1) complex64 and exactly the layers' features asked for."""
    outputs, features = payload.get("outputs"), payload.get("features")
    if (
        not isinstance(outputs, torch.Tensor)
        or tuple(outputs.shape) != (n, length, 1)
        or outputs.dtype != torch.complex64
        or not isinstance(features, dict)
    ):
        return False
    if sorted(features) != (sorted(layers) if with_features else []):
        return False
    return all(f.dtype == torch.complex64 and tuple(f.shape[:2]) == (n, length) for f in features.values())


def load_or_compute(
    cache_dir: Path,
    teacher: torch.nn.Module,
    teacher_sha: str,
    split_id: str,
    x: torch.Tensor,
    layers: list[int],
    with_features: bool,
    store_after_s: float = 0.0,
) -> tuple[TeacherTargets, bool]:
    """Cached targets for this teacher, columns and code if present and well-formed, else computed and
    stored when computing them took at least `store_after_s` seconds (a cheaper teacher is run again
    rather than written and read back). (targets, hit)."""
    key = cache_key(teacher_sha, split_id, layers, with_features)
    path = cache_dir / f"{key}.pt"
    if path.is_file():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if _usable(payload, x.shape[0], x.shape[1], layers, with_features):
                return TeacherTargets(payload["outputs"], dict(payload["features"])), True
        except Exception:  # a damaged cache entry is recomputed, never trusted
            pass
    started = time.perf_counter()
    targets = run_teacher(teacher, x, layers, with_features)
    if time.perf_counter() - started >= store_after_s:
        payload = {"outputs": targets.outputs, "features": targets.features}
        atomic_write(path, lambda tmp: save_without_checksums(payload, tmp), durable=False)
    return targets, False


def save_without_checksums(payload: dict, path: str | Path) -> None:
    """torch.save without the zip records' CRC-32 (restored after): on the demo sweep's 428 MB of
    teacher features the checksums took 1.8 s of a 2.1 s save. A cache entry is checked on loading
    (shapes, dtypes, layers) and recomputed when it is damaged; nothing else relies on the checksums."""
    before = torch.serialization.get_crc32_options()
    torch.serialization.set_crc32_options(False)
    try:
        torch.save(payload, path)
    finally:
        torch.serialization.set_crc32_options(before)
