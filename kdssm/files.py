"""Files written whole or not at all (standard library only: loaded by processes that need no torch)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
