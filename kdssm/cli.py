"""`kdssm` command line: subcommands, flags from the config dataclasses, one-line user errors."""
from __future__ import annotations

import argparse
import errno
import os
import sys
import typing
from pathlib import Path

from .config import ConfigError, RunConfig, SECTIONS, field_index

DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)  # a write the disk or a file-size limit refused
REPO_CONFIGS = Path(__file__).resolve().parent.parent / "configs"


class UserError(ValueError):
    """Any mistake of the user's that deserves one line, not a traceback."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"kdssm: error: {message} (see `{self.prog} --help`)\n")


def size_against_teacher(param_reduction: float) -> str:
    """'parameters 82.5 % fewer than the teacher's' (or 'more' for a student larger than its teacher)."""
    side = "fewer" if param_reduction >= 0 else "more"
    return f"parameters {100 * abs(param_reduction):.1f} % {side} than the teacher's"


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parse_int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def _is_mapping(hint) -> bool:
    return hint is dict or (typing.get_origin(hint) is typing.Union and dict in typing.get_args(hint))


def _flag_type(section: str, name: str):
    hint = typing.get_type_hints(SECTIONS[section])[name]
    if typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is list:
        return _parse_int_list
    return {bool: _parse_bool, int: int, float: float, str: str}[hint]


# Flag names that differ from the field name (`--preset` names a student size in `distill`).
FLAG_NAMES = {("data", "preset"): "data_preset"}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """--<field> for every config field (dashes accepted too), overriding the YAML value.

    Booleans work bare (`--progressive_coupling`) or with a value (`--bidirectional false`);
    lists take integers separated by spaces or commas.
    """
    for name, (section, f) in field_index().items():
        if _is_mapping(typing.get_type_hints(SECTIONS[section])[name]):
            continue  # a mapping (search.space, model.geometry) is set in YAML only
        flag = FLAG_NAMES.get((section, name), name)
        flags = [f"--{flag}"] + ([f"--{flag.replace('_', '-')}"] if "_" in flag else [])
        kind = _flag_type(section, name)
        extra = {"nargs": "?", "const": True} if kind is _parse_bool else {}
        if kind is _parse_int_list:
            extra = {"nargs": "+", "type": _parse_int_list}
        parser.add_argument(*flags, dest=f"cfg__{section}__{name}", default=None,
                            metavar=flag.upper(), help=f"[{section}] {f.metadata['help']}".replace("%", "%%"),
                            **({"type": kind} | extra))


def _flatten(value):
    """nargs='+' of comma lists -> one flat list."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [v for part in value for v in part]
    return value


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, value in vars(args).items():
        if key.startswith("cfg__") and value is not None:
            _, section, name = key.split("__")
            out.setdefault(section, {})[name] = _flatten(value)
    return out


def load_config(path: str | None, args: argparse.Namespace, default: Path | None = None) -> RunConfig:
    source = Path(path) if path else default
    cfg = RunConfig.from_file(source) if source else RunConfig()
    return cfg.with_overrides(overrides_from_args(args))


def add_cluster_flags(parser: argparse.ArgumentParser, sweep: bool = False) -> None:
    if sweep:
        group = parser.add_argument_group("cluster (each trial is a Ray Train run of search.workers_per_trial workers)")
    else:
        group = parser.add_argument_group("distributed (Ray Train; without these flags the run stays in this process)")
        group.add_argument("--num_workers", "--num-workers", type=int, default=None,
                           help="data-parallel Ray Train workers, each on its own shard of the columns")
    group.add_argument("--use_gpu", "--use-gpu", action="store_true", help="one GPU per worker (nccl)")
    group.add_argument("--address", help="Ray cluster: auto, host:port or ray://host:port "
                                         "(default: a local Ray started in this process)")
    group.add_argument("--storage_path", "--storage-path",
                       help="where Ray keeps the run's epoch checkpoints: a folder, or a URI such as s3://bucket/path "
                            "(default: <save_dir>/ray); shared storage for multi-node clusters")
    group.add_argument("--max_failures", "--max-failures", type=int, default=2,
                       help="worker-group restarts from the latest checkpoint before giving up (default 2)")
    group.add_argument("--cpus_per_worker", "--cpus-per-worker", type=int, default=1,
                       help="CPUs (and torch threads) per worker (default 1)")


def cluster_from_flags(args: argparse.Namespace, num_workers: int = 1):
    """ClusterOptions of the cluster flags, the storage path checked."""
    from .train.cluster import ClusterOptions, check_storage
    opts = ClusterOptions(num_workers=num_workers, use_gpu=args.use_gpu, address=args.address,
                          storage_path=args.storage_path, max_failures=args.max_failures,
                          cpus_per_worker=args.cpus_per_worker)
    check_storage(opts.storage_path)
    return opts


def cluster_options(args: argparse.Namespace):
    """ClusterOptions when any distributed flag is given (checked, Ray joined), else None (local run)."""
    if args.num_workers is None and not (args.use_gpu or args.address or args.storage_path):
        return None
    from .train.cluster import connect
    opts = cluster_from_flags(args, 1 if args.num_workers is None else args.num_workers)
    connect(opts)
    return opts


def execute(plan, opts, progress: bool) -> dict:
    if opts is None:
        from .train.runner import execute as execute_here
        return execute_here(plan, progress)
    from .train.distributed import execute as execute_on_ray
    return execute_on_ray(plan, opts, progress)


def cmd_train(args: argparse.Namespace) -> int:
    from .train.runner import plan_training
    cfg = load_config(args.config, args)
    save_dir = args.save_dir or f"runs/{'teacher' if cfg.model.use_selectivity else 'student'}"
    opts = cluster_options(args)
    summary = execute(plan_training(cfg, save_dir, args.overwrite), opts, not args.quiet)
    from .report import print_scores
    print_scores({"model": summary, "matched filter": summary["matched_filter"]})
    print(f"wrote {Path(save_dir) / 'model.ckpt'} and {Path(save_dir) / 'summary.json'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    config = Path(args.config) if args.config else REPO_CONFIGS / "demo" / "teacher.yaml"
    cfg = load_config(str(config), args)
    sweep_cfg = RunConfig.from_file(args.sweep_config or REPO_CONFIGS / "demo" / "sweep.yaml")
    run_demo(cfg, sweep_cfg, Path(args.save_dir), overwrite=args.overwrite, progress=not args.quiet)
    return 0


def student_base_config(args: argparse.Namespace) -> RunConfig:
    """The student's starting config: --student_config, else the teacher run's config without the gate."""
    if args.student_config:
        return RunConfig.from_file(args.student_config)
    from .distill.runner import resolve_teacher
    from .train.rundir import CONFIG_FILE
    stored = resolve_teacher(args.teacher_checkpoint).parent / CONFIG_FILE
    base = RunConfig.from_file(stored) if stored.is_file() else RunConfig()
    return base.with_overrides({"model": {"use_selectivity": False}})


def cmd_distill(args: argparse.Namespace) -> int:
    from .distill.runner import plan_distillation
    from .models import MODEL_PRESETS
    from .report import print_scores
    if not args.teacher_checkpoint:
        raise UserError("--teacher_checkpoint is required (a model.ckpt or a teacher run folder)")
    teacher_cfg = RunConfig.from_file(args.teacher_config).model if args.teacher_config else None
    cfg = student_base_config(args)
    if args.preset:
        cfg = cfg.with_overrides({"model": MODEL_PRESETS[args.preset]})
    overrides = overrides_from_args(args)
    if args.progressive_layers:
        overrides.setdefault("distillation", {})["progressive_coupling"] = True
    if args.disable_distribution_preservation:
        overrides.setdefault("distillation", {})["preserve_distribution"] = False
    cfg = cfg.with_overrides(overrides)
    save_dir = args.save_dir or f"runs/student-{args.preset or 'custom'}"
    opts = cluster_options(args)
    plan = plan_distillation(cfg, args.teacher_checkpoint, save_dir, teacher_config=teacher_cfg,
                             overwrite=args.overwrite)
    summary = execute(plan, opts, not args.quiet)
    print_scores({"student": summary, "teacher": summary["teacher"], "matched filter": summary["matched_filter"]})
    print(f"retention {summary['retention']:.4f}, {size_against_teacher(summary['param_reduction'])}; "
          f"wrote {Path(save_dir) / 'model.ckpt'} and {Path(save_dir) / 'summary.json'}")
    return 0


SMOKE_TEST = {"search": {"num_samples": 2, "grace_epochs": 1}, "training": {"num_epochs": 1, "max_minutes": 0},
              "data": {"train_size": 64, "val_size": 32, "test_size": 32}}


def cmd_sweep(args: argparse.Namespace) -> int:
    from tune.pareto import table
    from tune.sweep import run_sweep
    if not args.teacher_checkpoint:
        raise UserError("--teacher_checkpoint is required (a model.ckpt or a teacher run folder)")
    cfg = load_config(args.config, args, default=REPO_CONFIGS / "sweep.yaml")
    if args.smoke_test:
        cfg = cfg.with_overrides(SMOKE_TEST)
    save_dir = Path(args.save_dir or "runs/sweep")
    front = run_sweep(cfg, args.teacher_checkpoint, save_dir, cluster_from_flags(args), overwrite=args.overwrite,
                      progress=not args.quiet)
    print("\n" + table(front))
    print(f"wrote {save_dir / 'pareto.json'} and {save_dir / 'pareto.png'}")
    return 0


def cmd_pareto(args: argparse.Namespace) -> int:
    from tune.pareto import read, table
    folder = Path(args.save_dir)
    try:
        front = read(folder)
    except FileNotFoundError:
        return print_front_so_far(folder)
    except ValueError:
        raise UserError(f"{args.save_dir}/pareto.json: not valid JSON") from None
    print(table(front))
    return 0


def print_front_so_far(folder: Path) -> int:
    """A running (or interrupted) sweep has no pareto.json yet: its front over the trials finished so far."""
    from tune.pareto import table
    from tune.results import front_so_far
    try:
        front, finished, planned = front_so_far(folder)
    except (FileNotFoundError, NotADirectoryError):
        raise UserError(f"{folder}: no pareto.json and no sweep in progress (`kdssm sweep` writes them)") from None
    if front is None:
        print(f"sweep in progress: 0 of {planned} students finished, no front yet")
        return 0
    print(f"sweep in progress: the front of {finished} of {planned} students finished so far (pareto.json is "
          "written when the sweep ends)")
    print(table(front))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare_runs
    compare_runs(Path(args.teacher), [Path(s) for s in args.students], Path(args.out) if args.out else None,
                 args.precision)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .checkpoint import load_model
    from .data.datasets import load_npz
    from .data import simulate
    from .evaluate import evaluate_matched_filter, evaluate_model
    from .report import print_scores
    from .checkpoint import read_checkpoint
    from .config import ModelConfig
    from .data import get_preset
    from .resources import check_scoring
    config = ModelConfig.from_dict(read_checkpoint(args.checkpoint)["config"])
    check_scoring([config], args.num_columns, get_preset(args.data_preset).length, "evaluate")
    model = load_model(args.checkpoint)
    if args.npz:
        split = load_npz(args.npz)
        x, y = split.x, split.y
    else:
        x, y = simulate(args.data_preset, args.num_columns, args.seed)
    print_scores({"model": evaluate_model(model, x, y, args.data_preset),
                  "matched filter": evaluate_matched_filter(x, y, args.data_preset)})
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from .preflight import format_preflight, preflight
    cfg = load_config(args.config, args)
    teacher = None
    if args.teacher_checkpoint:
        from .checkpoint import read_checkpoint
        from .config import ModelConfig
        path = Path(args.teacher_checkpoint)
        teacher = ModelConfig.from_dict(read_checkpoint(path)["config"])
    result = preflight(cfg, teacher, args.save_dir, run_probe=not args.no_probe)
    print(format_preflight(cfg, result, "distillation" if teacher else "training"))
    return 0 if result["fits"] else 2


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="kdssm", description="Distil complex sarSSM focusing models.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model (teacher or student) on ground truth")
    train.add_argument("--config", help="run YAML (sections model, data, training)")
    train.add_argument("--save_dir", "--save-dir", help="run folder (resumed if unfinished)")
    train.add_argument("--overwrite", action="store_true", help="replace a finished run in save_dir")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cluster_flags(train)
    add_config_flags(train)
    train.set_defaults(func=cmd_train)

    demo = sub.add_parser("demo", help="simulate mini data, train the demo teacher, sweep 8 students, "
                                       "print the Pareto front, record everything in MLflow")
    demo.add_argument("--config", help="teacher YAML (default: configs/demo/teacher.yaml); flags override it")
    demo.add_argument("--sweep_config", "--sweep-config", help="sweep YAML (default: configs/demo/sweep.yaml)")
    demo.add_argument("--save_dir", "--save-dir", default="runs/demo", help="demo folder (default runs/demo)")
    demo.add_argument("--overwrite", action="store_true", help="replace a finished demo")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(demo)
    demo.set_defaults(func=cmd_demo)

    dist = sub.add_parser("distill", help="distil a teacher checkpoint into a student (the seed's flags work)")
    dist.add_argument("--teacher_checkpoint", "--teacher-checkpoint", help="teacher model.ckpt or run folder")
    dist.add_argument("--teacher_config", "--teacher-config", help="teacher YAML; its model must match the checkpoint")
    dist.add_argument("--student_config", "--student-config",
                      help="student YAML (default: the teacher run's config without the gate)")
    dist.add_argument("--preset", choices=("standard", "compressed", "tiny", "tiny16", "ultra"),
                      help="student size from the seeds")
    dist.add_argument("--save_dir", "--save-dir", help="student run folder (resumed if unfinished)")
    dist.add_argument("--overwrite", action="store_true", help="replace a finished run in save_dir")
    dist.add_argument("--quiet", action="store_true", help="no progress bar")
    for field in ("model_dim", "state_dim", "num_layers"):
        dist.add_argument(f"--student_{field}", f"--student-{field.replace('_', '-')}", type=int,
                          dest=f"cfg__model__{field}", default=None, help=f"the student's {field}")
    dist.add_argument("--progressive_layers", "--progressive-layers", action="store_true",
                      help="alias of --progressive_coupling")
    dist.add_argument("--disable_distribution_preservation", "--disable-distribution-preservation",
                      action="store_true", help="preserve_distribution false")
    add_cluster_flags(dist)
    add_config_flags(dist)
    dist.set_defaults(func=cmd_distill)

    sw = sub.add_parser("sweep", help="search students of a teacher with Ray Tune + Optuna; Pareto front and MLflow")
    sw.add_argument("--teacher_checkpoint", "--teacher-checkpoint", help="teacher model.ckpt or run folder")
    sw.add_argument("--config", help="sweep YAML: the student base config plus search and tracking sections "
                                     "(default: configs/sweep.yaml)")
    sw.add_argument("--save_dir", "--save-dir", help="sweep folder (resumed if interrupted; default runs/sweep)")
    sw.add_argument("--overwrite", action="store_true", help="replace a sweep in save_dir")
    sw.add_argument("--quiet", action="store_true", help="no Tune status tables")
    sw.add_argument("--smoke-test", "--smoke_test", action="store_true",
                    help="2 trials of 1 epoch on 64 columns: checks a setup end to end in a minute or two")
    add_cluster_flags(sw, sweep=True)
    add_config_flags(sw)
    sw.set_defaults(func=cmd_sweep)

    par = sub.add_parser("pareto", help="print the Pareto front of a finished sweep")
    par.add_argument("--save_dir", "--save-dir", required=True, help="sweep folder")
    par.set_defaults(func=cmd_pareto)

    cmp = sub.add_parser("compare", help="teacher and students side by side: table, JSON, CSV, scene PNG")
    cmp.add_argument("--teacher", required=True, help="teacher run folder")
    cmp.add_argument("--students", nargs="+", required=True, help="student run folders")
    cmp.add_argument("--out", help="folder for comparison.json/.csv/.png (default: the teacher's parent)")
    from .cli_deploy import PRECISIONS, add_deploy_commands
    cmp.add_argument("--precision", nargs="+", default=[], choices=PRECISIONS,
                     help="also score each student at these precisions (extra rows; FFTs stay fp32)")
    cmp.set_defaults(func=cmd_compare)

    ev = sub.add_parser("evaluate", help="score a model.ckpt on test columns against the matched filter")
    ev.add_argument("checkpoint", help="model.ckpt or a run folder holding one")
    ev.add_argument("--data_preset", "--data-preset", default="mini", choices=("mini", "s1"))
    ev.add_argument("--npz", help="score on these columns instead of simulated ones")
    ev.add_argument("--num_columns", "--num-columns", type=int, default=512)
    ev.add_argument("--seed", type=int, default=3)
    ev.set_defaults(func=cmd_evaluate)

    pln = sub.add_parser("plan", help="what a run needs (memory, disk, speed) before running it; nothing written")
    pln.add_argument("config", help="run YAML (as for train or distill)")
    pln.add_argument("--teacher_checkpoint", "--teacher-checkpoint", help="plan a distillation from this teacher")
    pln.add_argument("--save_dir", "--save-dir", help="where the run would go (its disk's free space)")
    pln.add_argument("--no_probe", "--no-probe", action="store_true", help="skip the short speed probe")
    add_config_flags(pln)
    pln.set_defaults(func=cmd_plan)

    add_deploy_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .checkpoint import CheckpointError
    from .data.datasets import DataError
    from .deploy.errors import DeployError
    from .resources import ResourceError
    user_errors: tuple[type[Exception], ...] = (ConfigError, CheckpointError, DataError, UserError, DeployError,
                                               ResourceError)
    try:
        from .train.folder_lock import FolderInUse
        from .train.rundir import RunDirError
        from .train.runner import TrainingDiverged
        user_errors += (RunDirError, FolderInUse, TrainingDiverged)
        if args.command in ("train", "distill", "sweep", "demo"):
            from .train.cluster import DistributedError
            user_errors += (DistributedError,)
        if args.command in ("sweep", "demo"):
            from .tracking import TrackingError
            user_errors += (TrackingError,)
        return args.func(args)
    except user_errors as err:
        print(f"kdssm: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kdssm: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except OSError as err:
        if err.errno not in DISK_FULL:
            raise
        where = f" writing {err.filename}" if err.filename else ""
        print(f"kdssm: error: {os.strerror(err.errno).lower()}{where}; what was written before is intact: free "
              "space (or raise the file-size limit) and run the same command again to resume", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
