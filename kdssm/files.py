"""Files written whole or not at all (standard library only: loaded by processes that need no torch)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MODEL_FILE = "model.ckpt"  # a run folder's model


def model_file(path: str | Path) -> Path:
    """The model.ckpt a user names: the file itself, or the one in a run folder (not checked to exist)."""
    path = Path(path)
    return path / MODEL_FILE if path.is_dir() else path


def atomic_write(path: str | Path, write, suffix: str = ".tmp", durable: bool = True) -> None:
    """Call write(tmp_path) on a temporary file beside `path`, fsync it, then rename it over `path`.

    A kill at any moment leaves either the old file or the new one, never a torn one. `suffix` ends
    the temporary's name, for writers that insist on one (torch.export wants .pt2). `durable=False`
    skips the fsync, for caches whose readers check what they load and recompute a damaged entry: a
    kill still leaves no torn file, and a power loss at worst an entry that is recomputed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove(path: Path) -> None:
    """A file or folder gone, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def swap_in(tmp: Path, path: Path) -> None:
    """A finished temporary (file or folder) renamed over `path`; the old one moved aside first, then removed,
    so a kill leaves the old output, the new one, or the old one beside it as `.<name>.old`."""
    old = path.parent / f".{path.name}.old"
    remove(old)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    remove(old)


def input_clash(output: str | Path, inputs) -> Path | None:
    """The input `output` would destroy, if any: the same file (through symlinks and hard links too),
    a folder holding it (a Zarr group, a run folder), or a file inside it. None when they are apart."""
    out = Path(output).resolve()
    for given in inputs:
        if given is None or str(given) == "":
            continue
        source = Path(given).resolve()
        if out == source or source in out.parents or out in source.parents:
            return Path(given)
        if out.exists() and source.exists() and os.path.samefile(out, source):
            return Path(given)
    return None


def unwritable_reason(output: str | Path) -> str:
    """Why nothing can be written at `output` ('' when a file can be created beside it): its folder is
    missing or not a folder, or refuses a new file (permissions, a read-only disk). Checked by creating
    and removing an empty file there, so it holds for root and for read-only mounts alike."""
    folder = Path(output).resolve().parent
    if not folder.is_dir():
        return f"{folder}: output folder does not exist"
    try:
        probe_write(folder)
    except OSError as err:
        return f"{folder}: cannot write there ({os.strerror(err.errno).lower()})"
    return ""


def probe_write(folder: str | Path) -> None:
    """Create and remove an empty file (of a name unique to this call) in `folder`; raises OSError when the
    folder refuses it. A real write, so it holds for root and read-only disks alike, unlike os.access."""
    fd, probe = tempfile.mkstemp(prefix=".kdssm-write-check.", dir=folder)
    os.close(fd)
    os.unlink(probe)
