"""`kdssm`: the parser of every subcommand, and user errors as one line with exit status 2."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading

from .. import __version__, interrupts
from ..config import ConfigError
from . import deploy, distill, plan, schema, score, sweep, train
from .parser import Parser, UserError

DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)  # a write the disk or a file-size limit refused
REFUSED = (errno.EACCES, errno.EPERM, errno.EROFS)  # a write the folder's permissions or a read-only disk refused
COMMANDS = (train, distill, sweep, score, plan, deploy, schema)  # each registers its subcommands


def build_parser() -> Parser:
    parser = Parser(prog="kdssm", description="Distil complex sarSSM focusing models.")
    parser.add_argument("--version", action="version", version=f"kdssm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def user_errors(command: str) -> tuple[type[Exception], ...]:
    """The exceptions that mean a user mistake (one line) for this command."""
    from ..checkpoint import CheckpointError
    from ..data.datasets import DataError
    from ..deploy.errors import DeployError
    from ..resources import ResourceError
    from ..train.folder_lock import FolderInUse
    from ..train.rundir import RunDirError
    from ..train.runner import TrainingDiverged

    errors: tuple[type[Exception], ...] = (
        ConfigError,
        CheckpointError,
        DataError,
        UserError,
        DeployError,
        ResourceError,
        RunDirError,
        FolderInUse,
        TrainingDiverged,
    )
    if command in ("train", "distill", "sweep", "demo"):
        from ..train.cluster import DistributedError

        errors += (DistributedError,)
    if command in ("sweep", "demo"):
        from ..tracking import TrackingError

        errors += (TrackingError,)
    return errors


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # a refused flag: one line and SystemExit(2)
    with interrupts.catch_signals():
        status = _run(args)
    if interrupts.received() is not None:
        _leave_ray()
    return status


def _leave_ray(limit_s: float = 20.0) -> None:
    """After a signal, leave the Ray this process joined within limit_s. A SIGTERM sent to the whole
    process group (a scheduler's stop) has killed a local Ray's GCS too, and Ray's own exit would wait
    60 s for it and then end the process with status 1 instead of 143."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return
    leaving = threading.Thread(target=ray.shutdown, daemon=True)
    leaving.start()
    leaving.join(limit_s)


def _run(args) -> int:
    try:
        errors = user_errors(args.command)
        if args.print_config:
            print(args.describe(args), end="")
            return 0
        return args.func(args)
    except errors as err:
        print(f"kdssm: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        return _interrupted(getattr(err, "signum", None) or interrupts.received() or signal.SIGINT, err)
    except SystemExit:
        if interrupts.received() is None:
            raise
        return _interrupted(interrupts.received(), None)  # a library's own exit after the signal (Lightning's)
    except OSError as err:
        if err.errno in REFUSED:
            where = f" at {err.filename}" if err.filename else ""
            print(
                f"kdssm: error: {os.strerror(err.errno).lower()}{where}; what was written before is intact",
                file=sys.stderr,
            )
            return 2
        if err.errno not in DISK_FULL:
            raise
        where = f" writing {err.filename}" if err.filename else ""
        print(
            f"kdssm: error: {os.strerror(err.errno).lower()}{where}; what was written before is intact: free "
            "space (or raise the file-size limit) and run the same command again to resume",
            file=sys.stderr,
        )
        return 2


def _interrupted(signum: int, err: BaseException | None) -> int:
    """One line for a run a signal stopped; exit status 128 + the signal (130 for SIGINT, 143 for SIGTERM)."""
    kept = getattr(err, "kept", "") or "nothing partial was written as finished"
    print(
        f"kdssm: interrupted ({interrupts.describe(signum)}): {kept}; run the same command again to resume",
        file=sys.stderr,
    )
    return 128 + signum
