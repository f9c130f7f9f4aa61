"""What a finished sweep leaves in MLflow for review: the parent run's figures, tables and files, the
teacher's run, the columns as datasets, and the registry (front students, the teacher, aliases).

Policy lives here (which runs, which names, which student gets which alias); `kdssm.tracking` only
writes what it is given.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from kdssm import tracking
from kdssm.config import RunConfig
from kdssm.distill import teacher_cache
from kdssm.report import first_line
from kdssm.train import rundir

from . import pareto
from .space import rules

CONTEXTS = {"train": "training", "val": "validation", "test": "test", "unlabelled": "unlabelled"}
TRIALS_TABLE = "trials.json"
HYPERVOLUME_PNG = "hypervolume.png"
HYPERVOLUME_JSON = "hypervolume.json"  # the validation hypervolume after each finished student, in order


def split_datasets(cfg: RunConfig, splits: dict) -> list[dict]:
    """tracking.dataset_record of each split ({"train": Split, ...}), with its MLflow context."""
    out = []
    for which, split in splits.items():
        npz = getattr(cfg.data, f"{which}_npz")
        source = npz or {
            "simulator": "kdssm.data.simulate",
            "preset": cfg.data.preset,
            "seed": getattr(cfg.data, f"{which}_seed"),
            "columns": len(split),
        }
        record = tracking.dataset_record(
            f"{cfg.data.preset}-{which}",
            teacher_cache.split_identity(split.x, split.y),
            source,
            len(split),
            split.x.shape[1],
            split.y is not None,
        )
        out.append(record | {"context": CONTEXTS[which]})
    return out


def trials_rows(front: dict, stopped: list[str]) -> list[dict]:
    """One row per finished student: sampled config, validation and test figures, front membership."""
    keys = (
        "params",
        "val_accuracy",
        "val_nmse_valid_db",
        "accuracy",
        "nmse_valid_db",
        "retention",
        "latency_ms_per_column",
    )
    rows = []
    for on_front, entries in ((True, front["front"]), (False, front["dominated"])):
        for e in entries:
            rows.append(
                {
                    "trial_id": e["trial_id"],
                    **e["config"],
                    **{k: e["metrics"].get(k) for k in keys},
                    "on_front": on_front,
                    "stopped_early": e["trial_id"] in stopped,
                    "beats_matched_filter": e["beats_baseline"],
                }
            )
    return sorted(rows, key=lambda r: r["trial_id"])


def experiment_name(cfg: RunConfig, save_dir: Path) -> str:
    return cfg.tracking.experiment or f"kdssm-{save_dir.resolve().name}"


LATENCY_KEYS = ("latency_ms_per_column", "filter_ms_per_column", "latency_vs_filter", "speedup")


def record_when_reachable(*args, patience_s: float = 600.0) -> None:
    """record(*args), retried while the tracking server does not answer (every write of record is
    find-or-create or skips what exists, so a retry adds nothing twice). pareto.json is already written;
    after patience_s one line says so and how to record it later."""
    deadline, told = time.monotonic() + patience_s, False
    while True:
        try:
            return record(*args)
        except Exception as err:
            uri = args[3]
            if not tracking.is_outage(err):  # MLflow answered and refused: waiting would not change that
                raise tracking.TrackingError(
                    f"tracking.tracking_uri {uri}: MLflow refused the sweep's records ({type(err).__name__}: "
                    f"{first_line(err)}); pareto.json is written"
                ) from None
            if time.monotonic() > deadline:
                raise tracking.TrackingError(
                    f"tracking.tracking_uri {uri}: unreachable for {patience_s:.0f} s at the end of the sweep "
                    f"({type(err).__name__}); pareto.json is written, run the same command again to record it"
                ) from None
            if not told:
                print(
                    f"[sweep] MLflow {uri} unreachable ({type(err).__name__}); the sweep's records wait for it "
                    f"(up to {patience_s / 60:.0f} min)",
                    flush=True,
                )
                told = True
            time.sleep(5)


def record(
    cfg: RunConfig,
    save_dir: Path,
    ckpt: Path,
    uri: str,
    front: dict,
    finished: int,
    stopped: list,
    datasets: list[dict],
) -> None:
    name = experiment_name(cfg, save_dir)
    tracker = tracking.SweepTracker(uri, name, save_dir)
    teacher_summary = ckpt.parent / rundir.SUMMARY_FILE
    config_file = ckpt.parent / rundir.CONFIG_FILE
    teacher_run = tracker.teacher(
        ckpt.parent,
        json.loads(teacher_summary.read_text()) if teacher_summary.is_file() else {},
        yaml.safe_load(config_file.read_text()) if config_file.is_file() else {},
    )
    tracker.log_datasets(tracker.parent_id, datasets)
    history_file = save_dir / HYPERVOLUME_JSON
    if history_file.is_file() and tracker.last_step(tracker.parent_id, "hypervolume_so_far") == 0:  # once
        for step, value in enumerate(json.loads(history_file.read_text()), start=1):
            tracker.log_metrics(tracker.parent_id, {"hypervolume_so_far": value}, step=step)  # the UI draws it
    tracker.log_table(tracker.parent_id, trials_rows(front, stopped), TRIALS_TABLE)
    tracker.finish_sweep(
        tracking.flat(
            "",
            {
                "search": cfg.search.to_dict() | {"space": json.dumps(rules(cfg.search))},
                "training": cfg.training.to_dict(),
                "data": cfg.data.to_dict(),
            },
        ),
        {
            "hypervolume": front["hypervolume"],
            "hypervolume_test": front["hypervolume_test"],
            "trials_finished": finished,
            "trials_stopped_early": len(stopped),
            "front_size": len(front["front"]),
            "front_beating_matched_filter": sum(e["beats_baseline"] for e in front["front"]),
            **tracking.scalar_metrics({k: v for k, v in front["baseline"].items() if k != "name"}, "matched_filter."),
        },
        [
            save_dir / n
            for n in (
                pareto.PARETO_JSON,
                pareto.PARETO_PNG,
                HYPERVOLUME_PNG,
                "sweep.yaml",
                "comparison.md",
                "search_space.json",
            )
        ],
    )
    runs = {e["trial_id"]: tracker.trial(e["trial_id"], {}) for e in front["front"] + front["dominated"]}
    # one latency per model everywhere: the quiet figures of latency.json replace the in-trial ones on each run
    for entry in front["front"] + front["dominated"]:
        kept = {k: entry["metrics"][k] for k in LATENCY_KEYS if k in entry["metrics"]}
        tracker.log_metrics(runs[entry["trial_id"]], kept)
    # every student run gets its logged model (the UI's Model column); registering logs the front's below
    for entry in front["dominated"] + ([] if cfg.tracking.register_front else front["front"]):
        tracker.log_model(runs[entry["trial_id"]], save_dir / entry["checkpoint"], entry["metrics"])
    if not cfg.tracking.register_front:
        return
    model_name = cfg.tracking.registered_model or f"{name}-students"
    versions = {}
    for entry in front["front"]:
        versions[entry["trial_id"]] = tracker.register(
            model_name, runs[entry["trial_id"]], save_dir / entry["checkpoint"], entry["metrics"]
        )
    aliases = {alias: versions[entry["trial_id"]] for alias, entry in pareto.chosen(front).items()}
    for alias, version in aliases.items():
        tracker.alias(model_name, alias, version)
    teacher_name = f"{name}-teacher"
    teacher_version = tracker.register(
        teacher_name, teacher_run, ckpt, {k: v for k, v in front["teacher"].items() if k != "validation"}, "teacher"
    )
    rundir.write_json(
        save_dir / "registry.json",
        {
            "tracking_uri": uri,
            "experiment": name,
            "registered_model": model_name,
            "versions": versions,
            "aliases": aliases,
            "teacher": {"registered_model": teacher_name, "version": teacher_version},
        },
    )
