"""`kdssm compare`: teacher and students side by side on the teacher's test split."""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from . import metrics
from .checkpoint import load_model, read_checkpoint
from .config import ModelConfig, RunConfig, size_label
from .data import matched_filter
from .data.datasets import data_columns, load_split
from .evaluate import (
    deployed_latency,
    evaluate_matched_filter,
    evaluate_model,
    from_limit,
    latency_vs_filter,
    predict,
    production_filter,
)
from .files import MODEL_FILE
from .memory import peak_memory_mb
from .models import count_params
from .report import aligned
from .resources import check_scoring
from .train import rundir

COLUMNS = (
    "name",
    "model_dim",
    "state_dim",
    "later_state_dim",
    "num_layers",
    "selectivity",
    "params",
    "param_reduction_pct",
    "latency_ms_b1",
    "latency_ms_b32",
    "peak_mem_mb",
    "nmse_db",
    "nmse_valid_db",
    "accuracy",
    "retention",
    "pslr_db",
    "islr_db",
    "irw_samples",
)

MATCHED_FILTER = "matched filter"


def describe(name: str, run: Path, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, preset) -> dict:
    cfg = model.config
    scores = evaluate_model(model, x, y, preset)
    return {
        "name": name,
        "model_dim": cfg.model_dim,
        "state_dim": cfg.state_dim,
        "later_state_dim": cfg.later_state_dim,
        "num_layers": cfg.num_layers,
        "selectivity": cfg.use_selectivity,
        **scores,
        "latency_ms_b1": deployed_latency(model, x, preset, batch=1)["latency_ms_per_column"],
        "latency_ms_b32": scores["latency_ms_per_column"],
        "peak_mem_mb": peak_memory_mb(x.shape[1], checkpoint=str(run / MODEL_FILE)),
    }


def describe_matched_filter(x: torch.Tensor, y: torch.Tensor, preset) -> dict:
    """The classical baseline as a row: no parameters, no dims, its latency measured the same way."""

    scores = evaluate_matched_filter(x, y, preset)
    focus = production_filter(preset, x.shape[1])
    return {
        "name": MATCHED_FILTER,
        "model_dim": None,
        "state_dim": None,
        "later_state_dim": None,
        "num_layers": None,
        "selectivity": False,
        **scores,
        "latency_ms_b1": latency_vs_filter(focus, x, preset, batch=1)["latency_ms_per_column"],
        "latency_ms_b32": scores["latency_ms_per_column"],
        "peak_mem_mb": None,
    }


def precision_rows(models: dict, precisions: list[str], x: torch.Tensor, y: torch.Tensor, preset) -> list[dict]:
    """Each student again at every reduced precision (deploy/precision.py): its nmse change against its
    own fp32 output beside the usual figures, rows named 'student (bf16)'."""
    from .deploy.precision import at_precision

    rows = []
    for name, (run, model) in models.items():
        if name == "teacher":
            continue
        reference = predict(model, x)
        for precision in precisions:
            if precision == "fp32":
                continue
            low = at_precision(model, precision, x.shape[1])
            row = describe(f"{name} ({precision})", run, low, x, y, preset)
            row["params"], row["peak_mem_mb"] = count_params(model), None  # memory is measured for fp32 only
            row["nmse_change_db"] = metrics.nmse_db(predict(low, x), reference)
            rows.append(row)
    return rows


def compare_runs(
    teacher_dir: Path, student_dirs: list[Path], out_dir: Path | None = None, precisions: list[str] | None = None
) -> list[dict]:
    """Score every run and the matched filter on the teacher's test split (each student also at the
    reduced `precisions`); print a table and write JSON, CSV and PNG."""
    cfg = RunConfig.from_file(teacher_dir / rundir.CONFIG_FILE)
    preset = data_columns(cfg.data)
    configs = [ModelConfig.from_dict(read_checkpoint(d)["config"]) for d in [teacher_dir, *student_dirs]]
    check_scoring(configs, cfg.data.test_size, preset.length, "compare")
    test = load_split(cfg.data, "test")
    models = {"teacher": (teacher_dir, load_model(teacher_dir))}
    for d in student_dirs:
        models[d.name] = (d, load_model(d))
    rows = [describe(name, run, model, test.x, test.y, preset) for name, (run, model) in models.items()]
    rows += precision_rows(models, precisions or [], test.x, test.y, preset)
    rows.append(describe_matched_filter(test.x, test.y, preset))
    limit = add_limit_gaps(rows, models, cfg, test, preset)
    teacher = rows[0]
    for row in rows:
        row["param_reduction_pct"] = 100.0 * (1.0 - row["params"] / teacher["params"])
        row["retention"] = metrics.retention(row["accuracy"], teacher["accuracy"])
        row["speedup_b32"] = teacher["latency_ms_b32"] / row["latency_ms_b32"]
    out_dir = out_dir or teacher_dir.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    rundir.write_json(
        out_dir / "comparison.json",
        {"preset": cfg.data.preset, "test_columns": len(test), "models": rows, "limit": limit},
    )
    with open(out_dir / "comparison.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*COLUMNS, "speedup_b32"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    from .plots import plot_scene

    predictions = {name: predict(model, test.x[:64]) for name, (_, model) in models.items()}
    plot_scene(test.x[:64], test.y[:64], predictions, preset, out_dir / "comparison.png")  # with the matched filter
    print(format_comparison(rows))
    if limit is not None:
        print(format_limit(limit, rows))
    print(f"wrote {out_dir / 'comparison.json'}, comparison.csv and comparison.png")
    return rows


def add_limit_gaps(rows: list[dict], models: dict, cfg: RunConfig, test, preset) -> dict | None:
    """The genie's limit on the test columns (data/limit.py; None for columns from files or products) and
    every row's distance from it in dB ("from_limit_db", "from_limit_valid_db"), on the columns the limit
    was computed on."""
    from .data.limit import split_limit_of

    limit = split_limit_of(cfg.data, "test")
    if limit is None:
        return None
    k = limit["columns"]
    x, y = test.x[:k], test.y[:k]
    outputs = {name: predict(model, x) for name, (_, model) in models.items()}
    outputs[MATCHED_FILTER] = matched_filter(x, preset)
    for row in rows:
        y_hat = outputs.get(row["name"])
        if y_hat is None:  # a reduced-precision row: its own figures are beside its fp32 row's
            continue
        row.update(from_limit(y_hat, x, y, preset, limit))
    return limit


def format_limit(limit: dict, rows: list[dict]) -> str:
    """One line: the limit and how far each model and the filter are from it."""
    gaps = ", ".join(
        f"{r['name']} {r['from_limit_db']:.1f} dB from it (valid {r['from_limit_valid_db']:.1f})"
        for r in rows
        if "from_limit_db" in r
    )
    return (
        f"limit (a genie knowing every target, the texture and the noise; {limit['columns']} test columns): "
        f"nmse {limit['nmse_db']:.2f} dB, valid {limit['nmse_valid_db']:.2f} dB; {gaps}"
    )


def format_comparison(rows: list[dict]) -> str:
    head = [
        "model",
        "dims",
        "gate",
        "params",
        "-%",
        "ms b1",
        "ms b32",
        "MB",
        "nmse",
        "valid",
        "acc",
        "ret",
        "PSLR",
        "ISLR",
        "IRW",
    ]
    body = []
    for r in rows:
        mem = f"{r['peak_mem_mb']:.0f}" if r["peak_mem_mb"] is not None else "-"
        sizes = (r["model_dim"], r["state_dim"], r.get("later_state_dim"), r["num_layers"])
        dims = size_label(*sizes) if r["model_dim"] is not None else "-"
        body.append(
            [
                r["name"],
                dims,
                "yes" if r["selectivity"] else "no",
                f"{r['params']:,}",
                f"{r['param_reduction_pct']:.1f}",
                f"{r['latency_ms_b1']:.3f}",
                f"{r['latency_ms_b32']:.3f}",
                mem,
                f"{r['nmse_db']:.2f}",
                f"{r['nmse_valid_db']:.2f}",
                f"{r['accuracy']:.4f}",
                f"{r['retention']:.4f}",
                f"{r['pslr_db']:.2f}",
                f"{r['islr_db']:.2f}",
                f"{r['irw_samples']:.3f}",
            ]
        )
    return aligned([head, *body])
