"""A run directory: its config, resume or refuse, and the atomic JSON writes of its results."""

from __future__ import annotations

import glob
import json
import shutil
from pathlib import Path

import yaml

from ..config import RunConfig
from ..files import MODEL_FILE, atomic_write, input_clash, probe_write
from . import folder_lock


class RunDirError(ValueError):
    """A save_dir that cannot be used as asked; the message is one line naming it."""


CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
LIGHTNING_DIR = "checkpoints"


def write_json(path: Path, data: dict) -> None:
    text = json.dumps(data, indent=2, sort_keys=False)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text + "\n"))


def first_difference(old: dict, new: dict, prefix: str = "") -> str | None:
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = first_difference(a, b, f"{prefix}{key}.")
            if found:
                return found
        elif key not in old:  # a field added after the run began: its default may change what it does
            return f"{prefix}{key}: not in the stored config (an older kdssm) -> {b!r}"
        elif a != b:
            return f"{prefix}{key}: {a!r} -> {b!r}"
    return None


def writable_folder(path: Path) -> None:
    """Create path if needed and prove a file can be written in it; raises OSError otherwise."""
    path.mkdir(parents=True, exist_ok=True)
    probe_write(path)


def prepare(save_dir: str | Path, cfg: RunConfig, overwrite: bool = False, inputs=()) -> tuple[Path, bool]:
    """Make `save_dir` ready for `cfg` and hold it for this process (folder_lock); returns (path, resuming).

    A finished run (summary.json present) is only replaced with overwrite. An unfinished one
    resumes when its stored config equals `cfg`, and is refused otherwise, naming the first
    differing field, so nothing is silently mixed or overwritten. A folder another live process
    holds is refused before anything in it changes; the caller releases it when the run ends.
    """
    root = Path(save_dir)
    claim(root, [*inputs, *data_files(cfg)])
    with folder_lock.released_on_error(root):
        return root, _resume_or_start(root, cfg, overwrite)


def data_files(cfg: RunConfig) -> list[str]:
    """The .npz files and products (each product a path or glob) a run reads its columns from."""
    d = cfg.data
    products = [p.strip() for p in (d.products or "").split(",") if p.strip() and not glob.has_magic(p)]
    return [path for path in (d.train_npz, d.val_npz, d.test_npz, d.unlabelled_npz) if path] + products


def claim(root: Path, inputs=()) -> None:
    """A usable folder for a run or a sweep, created if needed and held for this process (folder_lock);
    a one-line RunDirError (or FolderInUse) otherwise, before anything in it changes. A folder that is or
    holds one of `inputs` (files the run reads: a teacher, columns) is refused: --overwrite would destroy it."""
    clash = input_clash(root, inputs)
    if clash is not None:
        raise RunDirError(f"{root}: save_dir is or holds the input {clash}; use another --save_dir")
    if root.exists() and not root.is_dir():
        raise RunDirError(f"{root}: save_dir exists and is not a directory")
    try:
        writable_folder(root)
    except OSError as err:
        raise RunDirError(f"{root}: save_dir is not writable ({err.strerror})") from None
    folder_lock.acquire(root)


def _resume_or_start(root: Path, cfg: RunConfig, overwrite: bool) -> bool:
    stored = root / CONFIG_FILE
    if overwrite:
        for name in (CONFIG_FILE, SUMMARY_FILE, MODEL_FILE):
            (root / name).unlink(missing_ok=True)
        shutil.rmtree(root / LIGHTNING_DIR, ignore_errors=True)
    elif (root / SUMMARY_FILE).exists():
        raise RunDirError(f"{root}: holds a finished run; pass --overwrite to replace it")
    if stored.exists():
        old = yaml.safe_load(stored.read_text()) or {}
        diff = first_difference(old, cfg.to_dict())
        if diff:
            raise RunDirError(
                f"{root}: holds an unfinished run with another config ({diff}); use another --save_dir or --overwrite"
            )
        return True
    atomic_write(stored, lambda tmp: cfg.dump(tmp))
    return False


def last_checkpoint(root: Path) -> Path | None:
    path = root / LIGHTNING_DIR / "last.ckpt"
    return path if path.is_file() else None
