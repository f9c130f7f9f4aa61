"""What a finished sweep leaves in MLflow for review: the parent run's figures, tables and files, the
teacher's run, the columns as datasets, and the registry (front students, the teacher, aliases).

Policy lives here (which runs, which names, which student gets which alias); `kdssm.tracking` only
writes what it is given.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

import yaml

from kdssm import tracking
from kdssm.config import RunConfig
from kdssm.distill import teacher_cache
from kdssm.report import first_line
from kdssm.tracking.uri import redact
from kdssm.train import rundir

from . import pareto, run_view
from .space import rules

MLFLOW_JSON = "mlflow.json"  # where the sweep's records are: tracking URI, experiment, its runs view
# MLflow 3's UI opens an experiment on its GenAI pages in a fresh browser, whatever the experiment's kind
# tag says, unless the address names the workflow: the runs view is asked for by name, with the teacher
# and the students side by side (the parent filtered out, else they sit folded under it), smallest first
RUNS_VIEW = (
    "#/experiments/{id}/runs?workflowType=machine_learning&searchFilter="
    + quote("tags.`kdssm.role` != 'sweep'")
    + "&orderByKey="
    + quote("metrics.`params`")
    + "&orderByAsc=true"
)
TRIALS_TABLE = "trials.json"
HYPERVOLUME_PNG = "hypervolume.png"
HYPERVOLUME_JSON = "hypervolume.json"  # the validation hypervolume after each finished student, in order


def split_datasets(cfg: RunConfig, splits: dict) -> list[dict]:
    """tracking.dataset_record of each split ({"train": Split, ...}), with its MLflow context."""
    out = []
    for which, split in splits.items():
        source = run_view.split_source(cfg.data.to_dict(), which, len(split))
        record = tracking.dataset_record(
            f"{cfg.data.preset}-{which}",
            teacher_cache.split_identity(split.x, split.y),
            source,
            len(split),
            split.x.shape[1],
            split.y is not None,
        )
        out.append(record | {"context": run_view.CONTEXTS[which]})
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
    view = RUNS_VIEW.format(id=tracker.experiment_id)
    rundir.write_json(
        save_dir / MLFLOW_JSON,
        {"tracking_uri": uri, "experiment": name, "experiment_id": tracker.experiment_id, "runs_view": view},
    )
    teacher_run, teacher_names = record_teacher(tracker, ckpt, front["teacher"])
    tracker.log_datasets(tracker.parent_id, datasets)
    history_file = save_dir / HYPERVOLUME_JSON
    if history_file.is_file() and tracker.last_step(tracker.parent_id, "hypervolume_so_far") == 0:  # once
        for step, value in enumerate(json.loads(history_file.read_text()), start=1):
            tracker.log_metrics(tracker.parent_id, {"hypervolume_so_far": value}, step=step)  # the UI draws it
    tracker.log_table(tracker.parent_id, trials_rows(front, stopped), TRIALS_TABLE)
    tracker.rename(tracker.parent_id, f"sweep · {finished} students, {len(front['front'])} on the front")
    if front.get("limit"):
        tracker.set_tag(tracker.parent_id, "kdssm.from_limit", run_view.limit_line(front))
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
            # the teacher's and the filter's figures on the sweep's columns, here once (not on every student)
            **tracking.scalar_metrics(front["teacher"], "teacher."),
            **tracking.scalar_metrics({k: v for k, v in front["baseline"].items() if k != "name"}, "matched_filter."),
            **tracking.scalar_metrics(front.get("limit") or {}, "limit."),
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
        kept = {k: entry["metrics"][k] for k in run_view.RUN_LATENCY if k in entry["metrics"]}
        tracker.log_metrics(runs[entry["trial_id"]], kept)

    def student(entry: dict) -> tuple[str, Path, dict, str]:
        """(run, checkpoint, the run's own figures for its logged model, the logged model's name)"""
        checkpoint = save_dir / entry["checkpoint"]
        figures = run_view.run_metrics(json.loads((checkpoint.parent / rundir.SUMMARY_FILE).read_text()))
        figures |= {k: entry["metrics"][k] for k in run_view.RUN_LATENCY if k in entry["metrics"]}
        named = run_view.logged_model_name("student", entry["config"], entry["metrics"]["params"])
        return runs[entry["trial_id"]], checkpoint, figures, named

    # every student run gets its logged model (the UI's Model column); registering logs the front's below
    for entry in front["dominated"] + ([] if cfg.tracking.register_front else front["front"]):
        run_id, checkpoint, figures, named = student(entry)
        tracker.log_model(run_id, checkpoint, figures, named)
    if not cfg.tracking.register_front:
        return
    model_name = cfg.tracking.registered_model or f"{name}-students"
    versions = {}
    for entry in front["front"]:
        run_id, checkpoint, figures, named = student(entry)
        versions[entry["trial_id"]] = tracker.register(model_name, run_id, checkpoint, figures, entry["metrics"], named)
    aliases = {alias: versions[entry["trial_id"]] for alias, entry in pareto.chosen(front).items()}
    for alias, version in aliases.items():
        tracker.alias(model_name, alias, version)
    teacher_name = f"{name}-teacher"
    teacher_figures = {k: v for k, v in front["teacher"].items() if k != "validation"}
    teacher_version = tracker.register(teacher_name, teacher_run, ckpt, teacher_figures, teacher_figures, teacher_names)
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


def record_teacher(tracker: tracking.SweepTracker, ckpt: Path, scores: dict) -> tuple[str, str]:
    """The teacher's run, named by role and shape, with its training read back from its folder (per-epoch
    curves, the columns it was trained on, its duration) and its scores on the sweep's columns; returns the
    run id and the name of its logged model."""
    folder = ckpt.parent
    summary_file, config_file = folder / rundir.SUMMARY_FILE, folder / rundir.CONFIG_FILE
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
    model, params = summary.get("model") or config.get("model", {}), int(scores.get("params", summary.get("params", 0)))
    run_id = tracker.teacher(
        run_view.run_name("teacher", model, params),
        tracking.flat("", config),
        run_view.run_metrics(summary | {k: v for k, v in scores.items() if k != "validation"}),
        run_view.teacher_curves(folder),
        run_view.teacher_datasets(config),
        [summary_file, config_file, ckpt],
        run_view.teacher_times(folder, summary),
    )
    return run_id, run_view.logged_model_name("teacher", model, params)


def review_lines(save_dir: Path) -> list[str]:
    """How to open a finished sweep's records: MLflow's runs view of its experiment and, for its Optuna
    study, optuna-dashboard (the optional extra kdssm[dashboard]); none when the sweep left no mlflow.json."""
    path = save_dir / MLFLOW_JSON
    if not path.is_file():
        return []
    info = json.loads(path.read_text())
    uri, view = redact(info["tracking_uri"]), info["runs_view"]  # never a password on the console
    if uri.startswith(("http://", "https://")):
        mlflow = f"MLflow: {uri.rstrip('/')}/{view}"
    else:
        mlflow = (
            f"MLflow: .venv/bin/mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000, then open "
            f"http://127.0.0.1:5000/{view}"
        )
    study = (save_dir / "optuna.db").resolve()
    lines = [mlflow]
    if study.is_file():
        lines.append(
            f"Optuna study: .venv/bin/optuna-dashboard sqlite:///{study} --host 127.0.0.1 --port 8080 "
            "(pip install 'kdssm[dashboard]')"
        )
    return lines
