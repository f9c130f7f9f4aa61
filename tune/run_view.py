"""What a reviewer sees of each MLflow run: names that say role and shape, a handful of metrics per
student run (its own curves and summary figures; the teacher's and the filter's live on the parent
once), and the teacher's training read back from its folder
(per-epoch curves, the columns it was trained on, when it ran).

MLflow's chart view draws one chart per metric and its runs table offers every metric as a column:
with the teacher and filter figures copied onto every student (62 metrics a run) the per-epoch curves
were buried. Policy only: kdssm.tracking writes what it is given.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from kdssm import tracking
from kdssm.files import MODEL_FILE

# per-epoch curves of a trial, as its distillation loop reports them
EPOCH_METRICS = ("val_accuracy", "val_nmse_db", "val_nmse_valid_db", "train_total_loss", "val_total_loss")
MAX_RUN_METRICS = 20  # what MLflow's chart view and columns stay readable with
# a student run's summary figures (test split unless named validation.*), latency as kept once per model
SUMMARY_METRICS = (
    "params",
    "macs_per_column",
    "accuracy",
    "nmse_db",
    "nmse_valid_db",
    "pslr_db",
    "islr_db",
    "irw_samples",
    "retention",
    "validation.accuracy",
    "validation.nmse_valid_db",
    "training.epochs",
    "latency_vs_filter",
    "latency_ms_per_column",
)
RUN_LATENCY = ("latency_vs_filter", "latency_ms_per_column")  # re-logged from latency.json (records.py)
TEACHER_CURVES = ("train_loss", "val_loss", "val_accuracy", "val_nmse_db", "val_nmse_valid_db", "val_objective_db")


def shape(model: dict) -> str:
    """model_dim/state_dim/layers and the gate width where there is one: "8/32/3 gate 4"."""
    out = f"{model['model_dim']}/{model['state_dim']}/{model['num_layers']}"
    return out + (f" gate {model['gate_width']}" if model.get("use_selectivity") else "")


def run_name(role: str, model: dict, params: int) -> str:
    """A run's name: "student 8/32/3 gate 4 · 1,354 p"."""
    return f"{role} {shape(model)} · {params:,} p"


def logged_model_name(role: str, model: dict, params: int) -> str:
    """A logged model's name (MLflow refuses / : . % and quotes in it): "student-8-32-3-gate4-1354p"."""
    return f"{role}-{shape(model).replace('/', '-').replace(' gate ', '-gate')}-{params}p"


def run_metrics(summary: dict) -> dict[str, float]:
    """A student run's summary figures (SUMMARY_METRICS) from its summary.json."""
    figures = tracking.scalar_metrics(
        {k: v for k, v in summary.items() if k not in ("model", "teacher", "matched_filter")}
    )
    return {k: figures[k] for k in SUMMARY_METRICS if k in figures}


def teacher_curves(folder: Path) -> list[tuple[int, dict[str, float]]]:
    """(epoch, figures) of the teacher's training from its Lightning CSV logs (logs/version_*/metrics.csv):
    the last row seen for each epoch and figure (a resumed run's repeated epochs replace the first)."""
    epochs: dict[int, dict[str, float]] = {}
    versions = sorted(folder.glob("logs/version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    for path in versions:
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if not row.get("epoch"):
                    continue
                figures = epochs.setdefault(int(row["epoch"]) + 1, {})
                figures.update({k: float(row[k]) for k in TEACHER_CURVES if row.get(k)})
    return sorted((epoch, figures) for epoch, figures in epochs.items() if figures)


# a split's context in MLflow's dataset records
CONTEXTS = {"train": "training", "val": "validation", "test": "test", "unlabelled": "unlabelled"}


def simulated_source(preset: str, seed: int, columns: int, **settings) -> dict:
    """What a dataset record names as the source of simulated columns: the simulator and its settings."""
    return {"simulator": "kdssm.data.simulate", "preset": preset, "seed": seed, "columns": columns, **settings}


def limit_line(front: dict) -> str:
    """The parent run's "x dB from the limit" in words: the teacher's and the filter's distances from the
    genie's limit (data/limit.py) on the sweep's test columns, whole column and valid region."""
    limit, teacher, base = front["limit"], front["teacher"], front["baseline"]
    return (
        f"teacher {teacher['from_limit_db']:.1f} dB from the limit (valid {teacher['from_limit_valid_db']:.1f}), "
        f"matched filter {base['from_limit_db']:.1f} (valid {base['from_limit_valid_db']:.1f}); limit "
        f"{limit['nmse_db']:.2f} / {limit['nmse_valid_db']:.2f} dB on {limit['columns']} test columns"
    )


def split_source(data: dict, which: str, columns: int, **settings) -> str | dict:
    """The source a dataset record names for a split of a config's data section (a mapping): its .npz file,
    the products it is read from (level and seeds), or the simulator's settings."""
    if data.get(f"{which}_npz"):
        return data[f"{which}_npz"]
    seed = data.get(f"{which}_seed")
    if data.get("products"):
        blocks = {} if which == "unlabelled" else {"split_seeds": [data.get("val_seed"), data.get("test_seed")]}
        level = data.get("product_level", "rcmc")
        return {"products": data["products"], "level": level, "seed": seed, "columns": columns, **blocks}
    return simulated_source(data.get("preset"), seed, columns, **settings)


def teacher_datasets(config: dict) -> list[dict]:
    """The teacher's training and validation columns as MLflow datasets: the simulator's settings (or the
    .npz file) from its config.yaml; the digest is the settings' (the columns are not simulated again)."""
    data = config.get("data", {})
    out = []
    for which in ("train", "val"):
        scenes = {"scenes": data["train_scenes"]} if which == "train" and data.get("train_scenes") else {}
        settings = split_source(data, which, data.get(f"{which}_size"), **scenes)
        digest = "settings-" + hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        columns = data.get(f"{which}_size") or 0
        record = tracking.dataset_record(f"{data.get('preset')}-{which}", digest, settings, columns, None, True)
        out.append(record | {"context": CONTEXTS[which]})
    return out


def teacher_times(folder: Path, summary: dict) -> tuple[int | None, int | None]:
    """(start, end) of the teacher's training in ms since the epoch: its model file's time and the training
    seconds of its summary; (None, None) when unknown."""
    model = folder / MODEL_FILE
    seconds = summary.get("training", {}).get("train_seconds")
    if not model.is_file() or not seconds:
        return None, None
    end = int(model.stat().st_mtime * 1000)
    return end - int(float(seconds) * 1000), end
