"""`kdssm demo`: the embedded default end to end on the CPU."""
from __future__ import annotations

from pathlib import Path

from .config import RunConfig
from .report import print_scores
from .train import rundir
from .train.runner import train_run


def run_demo(cfg: RunConfig, save_dir: Path, overwrite: bool = False, progress: bool = True) -> dict:
    """Simulate `mini` columns, train the demo teacher into save_dir/teacher, compare with the matched filter.

    A finished demo is shown again rather than retrained (use overwrite to retrain).
    """
    teacher_dir = save_dir / "teacher"
    summary_path = teacher_dir / rundir.SUMMARY_FILE
    if summary_path.exists() and not overwrite:
        import json
        print(f"demo teacher already trained in {teacher_dir}; pass --overwrite to retrain")
        summary = json.loads(summary_path.read_text())
    else:
        d, m, t = cfg.data, cfg.model, cfg.training
        print(f"[demo] simulating {d.preset} columns: {d.train_size} train, {d.val_size} val, {d.test_size} test")
        print(f"[demo] training teacher {m.model_dim}/{m.state_dim}/{m.num_layers} "
              f"(selectivity {m.use_selectivity}, range conditioning {m.range_conditioning}) "
              f"for up to {t.num_epochs} epochs" + (f" or {t.max_minutes:g} min" if t.max_minutes else ""))
        summary = train_run(cfg, teacher_dir, overwrite=overwrite, progress=progress)
    print(f"\n[demo] test split: {summary['test_columns']} {summary['preset']} columns never seen in training")
    print_scores({"teacher": summary, "matched filter": summary["matched_filter"]})
    print(f"\n[demo] teacher checkpoint: {teacher_dir / 'model.ckpt'} (kdssm.load_model)")
    print(f"[demo] scores: {summary_path}; training curves: {teacher_dir / 'logs'}")
    return summary
