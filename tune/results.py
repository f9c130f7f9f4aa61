"""A sweep's results as its folder holds them: the reference scores (teacher, matched filter), the finished
trials, their front. Read from files, so a running sweep can be shown too (`kdssm pareto`)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kdssm.checkpoint import load_model
from kdssm.config import RunConfig
from kdssm.data import matched_filter
from kdssm.data.datasets import data_columns
from kdssm.data.limit import split_limit_of
from kdssm.evaluate import (
    deployed_latency,
    evaluate_matched_filter,
    evaluate_model,
    from_limit,
    predict,
    split_scores,
    validation_scores,
)
from kdssm.files import MODEL_FILE
from kdssm.train import rundir

from . import objectives as goals
from . import pareto
from .callbacks import trial_metrics
from .space import SPACE_PARAMS, rules

SWEEP_CONFIG = "sweep.yaml"
TRIALS = "trials"
REFERENCE = "reference.json"  # the teacher's and the matched filter's scores, once per sweep
LATENCY = "latency.json"  # latencies measured in one quiet pass at the end, once per student


def reference_scores(cfg: RunConfig, teacher, val, test) -> dict:
    """The teacher's and the matched filter's test scores (and validation ones), and the limit of the test
    columns (data/limit.py) with both one's distance from it, once for the whole sweep."""
    preset = data_columns(cfg.data)
    reference = {
        "teacher": {
            **evaluate_model(teacher, test.x, test.y, preset),
            "validation": validation_scores(teacher, val.x, val.y, preset),
        },
        "matched_filter": {
            **evaluate_matched_filter(test.x, test.y, preset),
            "validation": split_scores(matched_filter(val.x, preset), val.x, val.y, preset),
        },
    }
    limit = split_limit_of(cfg.data, "test")
    if limit is not None:  # simulated columns: the genie's limit on the first limit["columns"] of them
        k = limit["columns"]
        x, y = test.x[:k], test.y[:k]
        for name, y_hat in (("teacher", predict(teacher, x)), ("matched_filter", matched_filter(x, preset))):
            reference[name].update(from_limit(y_hat, x, y, preset, limit))
        reference["limit"] = limit
    return reference


def finished_trials(cfg: RunConfig, save_dir: Path) -> list[dict]:
    """Every trial of the sweep with a summary.json: its sampled config, metrics (callbacks.trial_metrics),
    checkpoint and summary. Read from the trial folders, so it works on a running sweep too."""
    out = []
    for summary_path in sorted((save_dir / TRIALS).glob(f"*/{rundir.SUMMARY_FILE}")):
        folder = summary_path.parent
        summary = json.loads(summary_path.read_text())
        run_cfg = yaml.safe_load((folder / rundir.CONFIG_FILE).read_text())
        sampled = {name: run_cfg[SPACE_PARAMS[name]][name] for name in rules(cfg.search)}
        out.append(
            {
                "trial_id": folder.name,
                "config": summary["model"] | sampled,
                "metrics": trial_metrics(summary),
                "checkpoint": str(folder / MODEL_FILE),
                "summary": summary,
            }
        )
    return out


def quiet_latency(save_dir: Path, trials: list[dict], reference: dict, x, preset, length: int = 0) -> None:
    """Latency of every student and the teacher measured again here, one after another with nothing else
    running (in-trial figures were taken beside other training trials), each beside the matched filter
    (evaluate.latency_vs_filter); updates the metrics in place.

    Kept in <save_dir>/latency.json: a model is measured once, so a resumed or re-run sweep, the front, its
    table and the registry's tags all carry the same figures."""
    path = save_dir / LATENCY
    kept = json.loads(path.read_text()) if path.is_file() else {}

    def measured(name: str, checkpoint) -> dict:
        if not isinstance(kept.get(name), dict):  # an older latency.json held the milliseconds alone
            kept[name] = deployed_latency(load_model(checkpoint), x, preset, length)
        return kept[name]

    if reference.get("checkpoint"):
        reference["teacher"].update(measured("teacher", reference["checkpoint"]))
    teacher_ms = reference["teacher"]["latency_ms_per_column"]
    for t in trials:
        t["metrics"].update(measured(t["trial_id"], t["checkpoint"]))
        t["metrics"]["speedup"] = teacher_ms / t["metrics"]["latency_ms_per_column"]
    rundir.write_json(path, kept)


def front_of(cfg: RunConfig, save_dir: Path, trials: list[dict], reference: dict) -> dict:
    names = [o.name for o in goals.of_search(cfg.search)]
    front = pareto.build(
        reference["teacher"],
        [{k: t[k] for k in ("trial_id", "config", "metrics", "checkpoint")} for t in trials],
        save_dir,
        reference["matched_filter"],
        names,
    )
    if reference.get("limit"):
        front["limit"] = reference["limit"]
    return front


def front_so_far(save_dir: Path) -> tuple[dict, int, int]:
    """(front of the trials finished so far, finished, planned) of a sweep folder, finished or running;
    nothing is written. Raises FileNotFoundError when save_dir holds no sweep."""
    for name in (SWEEP_CONFIG, REFERENCE):
        if not (save_dir / name).is_file():
            raise FileNotFoundError(save_dir / name)
    cfg = RunConfig.from_file(save_dir / SWEEP_CONFIG)
    reference = json.loads((save_dir / REFERENCE).read_text())
    trials = finished_trials(cfg, save_dir)
    return (front_of(cfg, save_dir, trials, reference) if trials else None), len(trials), cfg.search.num_samples
