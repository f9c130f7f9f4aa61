"""Train the demo teacher on `mini` and score it beside the matched filter on the same test columns.

    python benchmarks/teacher_quality.py [--config configs/demo/teacher.yaml] [--epochs N] [--minutes 10]

Writes benchmarks/results/teacher_quality.json with the untrained (matched-filter start) and the
trained teacher beside the matched filter. Acceptance (issue 11): nmse_valid_db <= -30 dB and
whole-column nmse at least 3 dB better than the matched filter's, within the demo's budget.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from kdssm.config import RunConfig
from kdssm.train.runner import train_run

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs/demo/teacher.yaml"))
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the config's)")
    args = parser.parse_args()
    cfg = RunConfig.from_file(args.config)
    epochs = args.epochs or cfg.training.num_epochs
    cfg = cfg.with_overrides({"training": {"max_minutes": args.minutes, "num_epochs": epochs}})
    with tempfile.TemporaryDirectory() as tmp:
        start = train_run(cfg.with_overrides({"training": {"num_epochs": 0}}), Path(tmp) / "init", progress=False)
        summary = train_run(cfg, Path(tmp) / "teacher", progress=False)
    teacher, mf = {k: v for k, v in summary.items() if k != "matched_filter"}, summary["matched_filter"]
    untrained = {k: start[k] for k in ("nmse_db", "nmse_valid_db", "accuracy", "pslr_db", "init")}
    verdict = {
        "whole_columns_3_db_better_than_matched_filter": teacher["nmse_db"] <= mf["nmse_db"] - 3.0,
        "valid_region_at_most_minus_30_db": teacher["nmse_valid_db"] <= -30.0,
        "train_seconds": teacher["training"]["train_seconds"],
    }
    path = write_result(
        "teacher_quality",
        {
            "config": cfg.to_dict(),
            "untrained": untrained,
            "teacher": teacher,
            "matched_filter": mf,
            "acceptance": verdict,
        },
    )
    print(
        f"untrained nmse {untrained['nmse_db']:.2f} dB valid {untrained['nmse_valid_db']:.2f} | teacher nmse "
        f"{teacher['nmse_db']:.2f} dB valid {teacher['nmse_valid_db']:.2f} dB | matched filter "
        f"{mf['nmse_db']:.2f} / {mf['nmse_valid_db']:.2f} | {verdict} -> {path}"
    )


if __name__ == "__main__":
    main()
