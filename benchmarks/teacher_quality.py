"""Train the demo teacher on `mini` and score it beside the matched filter on the same test columns.

    python benchmarks/teacher_quality.py [--config configs/demo/teacher.yaml] [--minutes 10]

Writes benchmarks/results/teacher_quality.json. Acceptance (issue 2): within 10 minutes of CPU
training the teacher beats the matched filter over whole columns and reaches nmse_valid_db <= -20.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

from kdssm.config import RunConfig  # noqa: E402
from kdssm.train.runner import train_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs/demo/teacher.yaml"))
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget")
    parser.add_argument("--epochs", type=int, default=50, help="epochs (the cosine schedule spans them)")
    args = parser.parse_args()
    cfg = RunConfig.from_file(args.config)
    cfg = cfg.with_overrides({"training": {"max_minutes": args.minutes, "num_epochs": args.epochs,
                                           "early_stopping_patience": 1000}})
    with tempfile.TemporaryDirectory() as tmp:
        summary = train_run(cfg, Path(tmp) / "teacher", progress=False)
    teacher, mf = {k: v for k, v in summary.items() if k != "matched_filter"}, summary["matched_filter"]
    verdict = {
        "beats_matched_filter_whole_columns": teacher["nmse_db"] < mf["nmse_db"],
        "valid_region_at_most_minus_20_db": teacher["nmse_valid_db"] <= -20.0,
        "within_10_minutes": teacher["training"]["train_seconds"] <= 600.0 + 30.0,
    }
    path = write_result("teacher_quality", {"config": cfg.to_dict(), "teacher": teacher, "matched_filter": mf,
                                            "acceptance": verdict})
    print(f"teacher nmse {teacher['nmse_db']:.2f} dB valid {teacher['nmse_valid_db']:.2f} dB | "
          f"matched filter {mf['nmse_db']:.2f} / {mf['nmse_valid_db']:.2f} | {verdict} -> {path}")


if __name__ == "__main__":
    main()
