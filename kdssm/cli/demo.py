"""`kdssm demo`: the embedded default end to end on the CPU.

Simulate `mini` columns, train the demo teacher into <save_dir>/teacher, sweep students of it into
<save_dir>/sweep (Ray Tune + Optuna, each student distilled in its Tune trial), print the Pareto
table, write pareto.png and the focused-scene figure, and say where MLflow's records are.
Finished steps are shown again rather than redone (overwrite redoes them).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..config import RunConfig
from ..report import print_scores
from ..train import rundir
from ..train.runner import train_run


def train_teacher(cfg: RunConfig, teacher_dir: Path, overwrite: bool, progress: bool) -> dict:
    summary_path = teacher_dir / rundir.SUMMARY_FILE
    if summary_path.exists() and not overwrite:
        print(f"[demo] teacher already trained in {teacher_dir}; pass --overwrite to retrain")
        return json.loads(summary_path.read_text())
    d, m, t = cfg.data, cfg.model, cfg.training
    print(f"[demo] 1/3 simulating {d.preset} columns: {d.train_size} train, {d.val_size} val, {d.test_size} test")
    print(
        f"[demo] 2/3 training teacher {m.size_label} "
        f"(selectivity {m.use_selectivity}, range conditioning {m.range_conditioning}) "
        f"for up to {t.num_epochs} epochs" + (f" or {t.max_minutes:g} min" if t.max_minutes else ""),
        flush=True,
    )
    return train_run(cfg, teacher_dir, overwrite=overwrite, progress=progress)


def run_demo(
    cfg: RunConfig, sweep_cfg: RunConfig, save_dir: Path, overwrite: bool = False, progress: bool = True
) -> dict:
    started = time.perf_counter()
    teacher_dir, sweep_dir = save_dir / "teacher", save_dir / "sweep"
    summary = train_teacher(cfg, teacher_dir, overwrite, progress)
    print(f"\n[demo] test split: {summary['test_columns']} {summary['preset']} columns never seen in training")
    print_scores({"teacher": summary, "matched filter": summary["matched_filter"]})
    from kdssm_tune.pareto import PARETO_JSON, read, table

    if (sweep_dir / PARETO_JSON).is_file() and not overwrite:
        print(f"\n[demo] sweep already finished in {sweep_dir}; pass --overwrite to run it again")
        front = read(sweep_dir)
    else:
        s = sweep_cfg.search
        print(
            f"\n[demo] 3/3 sweeping {s.num_samples} students ({s.sampler}, early stopping {s.early_stopping}), "
            f"each distilled in its own Tune trial for up to {sweep_cfg.training.num_epochs} epochs",
            flush=True,
        )
        from kdssm_tune.sweep import run_sweep

        front = run_sweep(sweep_cfg, teacher_dir, sweep_dir, overwrite=overwrite, progress=progress)
    print(
        "\n[demo] Pareto front of the students (chosen on validation, scored on test; speed-up: latency at "
        "batch 32 against the teacher)"
    )
    print(table(front))
    scene = focused_scene(cfg, teacher_dir, sweep_dir, front)
    print(f"\n[demo] teacher checkpoint: {teacher_dir / 'model.ckpt'} (kdssm.load_model)")
    print(f"[demo] Pareto front: {sweep_dir / PARETO_JSON}, {sweep_dir / 'pareto.png'}; focused scene: {scene}")
    explain_mlflow(sweep_dir)
    print(f"[demo] done in {(time.perf_counter() - started) / 60:.1f} min")
    return front


def focused_scene(cfg: RunConfig, teacher_dir: Path, sweep_dir: Path, front: dict) -> Path:
    """The column with the brightest test target, focused by the teacher, the matched filter and the front."""
    from ..checkpoint import load_model
    from ..data.datasets import load_split
    from ..evaluate import predict
    from ..plots import plot_scene

    test = load_split(cfg.data, "test")
    x, y = test.x[:64], test.y[:64]  # (64, L, 2), (64, L, 1) complex64
    predictions = {"teacher": predict(load_model(teacher_dir), x)}
    from kdssm_tune.pareto import chosen

    best, smallest = chosen(front).values()  # on validation figures: the test columns shown never chose anything
    for label, entry in (("best student", best), ("smallest student", smallest)):
        name = f"{label} ({entry['metrics']['params']:,} params)"
        predictions[name] = predict(load_model(sweep_dir / entry["checkpoint"]), x)
    path = sweep_dir.parent / "scene.png"
    plot_scene(x, y, predictions, cfg.data.preset, path)
    return path


def explain_mlflow(sweep_dir: Path) -> None:
    registry = sweep_dir / "registry.json"
    if not registry.is_file():
        return
    info = json.loads(registry.read_text())
    uri = info["tracking_uri"]
    print(
        f"[demo] MLflow: {uri} (experiment {info['experiment']}: a parent run for the sweep, "
        "a run for the teacher, one per student)"
    )
    print(
        f"[demo] registered {len(info['versions'])} front students as {info['registered_model']!r}, aliases "
        + ", ".join(f"{a} -> v{v}" for a, v in info["aliases"].items())
    )
    from kdssm_tune.records import review_lines

    for line in review_lines(sweep_dir):
        print(f"[demo] {line}")
    if "best-accuracy" in info["aliases"]:
        print(
            f"[demo] focus a scene with the best student: .venv/bin/kdssm scene --output scene.zarr, then "
            f".venv/bin/kdssm focus models:/{info['registered_model']}@best-accuracy --tracking_uri {uri} "
            "--input scene.zarr --output focused.zarr --compare matched_filter"
        )
