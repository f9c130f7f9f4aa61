"""Shared by the tests: command lines from keywords, the tiny runs they start, the output contract."""

from __future__ import annotations

import logging


def teacher_folder(root, model: dict, data: dict):
    """root/config.yaml and root/model.ckpt of an untrained teacher of these sizes (a real run folder, created
    with root); returns (its RunConfig, the model)."""
    from kdssm.checkpoint import save_model
    from kdssm.config import RunConfig
    from kdssm.models import SarSSM

    root.mkdir(parents=True, exist_ok=True)
    cfg = RunConfig.from_dict({"model": model, "data": data})
    cfg.dump(root / "config.yaml")
    teacher = SarSSM(**cfg.model.to_dict())
    save_model(teacher, root / "model.ckpt", "teacher")
    return cfg, teacher


def cli(argv: list[str]) -> int:
    """`kdssm argv` in this process: its exit status, argparse's refusals (SystemExit) included."""
    from kdssm.cli import main

    try:
        return main(argv)
    except SystemExit as done:
        return done.code


def flags(**options) -> list[str]:
    """['--name', 'value', ...] in the keywords' order; True gives the bare switch."""
    out: list[str] = []
    for name, value in options.items():
        out += [f"--{name}"] if value is True else [f"--{name}", str(value)]
    return out


def sets(**fields) -> list[str]:
    """['--set', 'section.name=value', ...] for config fields a command offers no flag for."""
    from kdssm.config import field_index

    index = field_index()
    out: list[str] = []
    for name, value in fields.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out += ["--set", f"{index[name][0]}.{name}={text}"]
    return out


# `kdssm train` of a tiny teacher on the demo geometry: seconds an epoch on 2 cores
TINY_TRAIN = {"config": "configs/demo/teacher.yaml", "model_dim": 4, "state_dim": 8, "num_layers": 2}
# `kdssm distill` of a tiny student; the teacher checkpoint is the caller's
TINY_STUDENT = {"student_model_dim": 3, "student_state_dim": 8, "student_num_layers": 2, "curriculum_epochs": 1}
SMALL_SPLITS = {"val_size": 32, "test_size": 32}

# what every summary.json holds (ARCHITECTURE.md, the output contract)
CONTRACT_KEYS = (
    "params",
    "nmse_db",
    "nmse_valid_db",
    "accuracy",
    "pslr_db",
    "islr_db",
    "irw_samples",
    "latency_ms_per_column",
)


def local_ray():
    """The one local Ray of the test session, started on first use (stopped by conftest at the end).

    4 logical CPUs on a 2-core machine: room for a 2-worker run beside a Tune trial; the work is tiny.
    An object store of 1 GiB (Ray's default is 30 % of the memory, held for the whole session once
    touched): the session's later tests at the seed's size need the machine's memory themselves.
    """
    import ray

    from kdssm.ray_local import start_local_ray

    if not ray.is_initialized():
        start_local_ray(
            num_cpus=4,
            object_store_memory=1 << 30,
            logging_level=logging.WARNING,
            logging_config=ray.LoggingConfig(log_level="ERROR"),
        )
    return ray
