"""`kdssm`: the parser of every subcommand, and user errors as one line with exit status 2."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading

from .. import __version__, interrupts
from . import deploy, distill, plan, schema, score, sweep, train
from .parser import Parser

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


# The exceptions that mean a user mistake (one line), by module: (module, class, the commands it is one for;
# None: every command). A raised error's class is loaded, so only modules already imported are looked at:
# telling a mistake from a bug imports nothing (an error costs no torch, Lightning or Ray start-up).
USER_ERRORS = (
    ("kdssm.config.base", "ConfigError", None),
    ("kdssm.cli.parser", "UserError", None),
    ("kdssm.checkpoint", "CheckpointError", None),
    ("kdssm.data.datasets", "DataError", None),
    ("kdssm.deploy.errors", "DeployError", None),
    ("kdssm.resources", "ResourceError", None),
    ("kdssm.train.rundir", "RunDirError", None),
    ("kdssm.train.folder_lock", "FolderInUse", None),
    ("kdssm.train.runner", "TrainingDiverged", None),
    ("kdssm.train.cluster", "DistributedError", ("train", "distill", "sweep", "demo")),
    ("kdssm.tracking.uri", "TrackingError", ("sweep", "demo")),
)


def user_errors(command: str) -> tuple[type[Exception], ...]:
    """The user-mistake exception types of this command among the modules loaded so far."""
    return tuple(
        getattr(sys.modules[module], name)
        for module, name, commands in USER_ERRORS
        if module in sys.modules and (commands is None or command in commands)
    )


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
        if args.print_config:
            print(args.describe(args), end="")
            return 0
        return args.func(args)
    except KeyboardInterrupt as err:
        return _interrupted(getattr(err, "signum", None) or interrupts.received() or signal.SIGINT, err)
    except SystemExit:
        if interrupts.received() is None:
            raise
        return _interrupted(interrupts.received(), None)  # a library's own exit after the signal (Lightning's)
    except Exception as err:  # the user-error types are imported only when something failed (fast starts)
        line = _one_line(err, args.command)
        if line is None:
            raise
        print(f"kdssm: error: {line}", file=sys.stderr)
        return 2


def _one_line(err: Exception, command: str) -> str | None:
    """The one line of a user mistake or of a write the system refused; None for a bug (its traceback)."""
    if isinstance(err, user_errors(command)):
        return str(err)
    if isinstance(err, OSError) and err.errno in REFUSED:
        where = f" at {err.filename}" if err.filename else ""
        return f"{os.strerror(err.errno).lower()}{where}; what was written before is intact"
    if isinstance(err, OSError) and err.errno in DISK_FULL:
        where = f" writing {err.filename}" if err.filename else ""
        return (
            f"{os.strerror(err.errno).lower()}{where}; what was written before is intact: free "
            "space (or raise the file-size limit) and run the same command again to resume"
        )
    return None


def _interrupted(signum: int, err: BaseException | None) -> int:
    """One line for a run a signal stopped; exit status 128 + the signal (130 for SIGINT, 143 for SIGTERM)."""
    kept = getattr(err, "kept", "") or "nothing partial was written as finished"
    print(
        f"kdssm: interrupted ({interrupts.describe(signum)}): {kept}; run the same command again to resume",
        file=sys.stderr,
    )
    return 128 + signum
