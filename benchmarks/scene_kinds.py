"""The teacher and the front's students against the matched filter on every kind of scene, not only the
data card's mix.

    python benchmarks/scene_kinds.py [--sweep runs/demo/sweep] [--teacher runs/demo/teacher]
                                     [--columns 512] [--seed 3]

A focuser fitted to the card's columns (3 point targets a column, SNR 5-20 dB) is judged by a SAR
engineer on the others too: clutter alone, denser targets, lower SNR (kdssm.data.simulate.SCENE_KINDS).
Each kind: `--columns` columns of the run's preset from `--seed` (the card kind at the test seed is the
test split itself), every focuser's whole-column and valid-region nmse, and whether it beats the
matched filter on each. Writes benchmarks/results/scene_kinds.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import front_checkpoints, write_result

from kdssm.checkpoint import load_model
from kdssm.config import RunConfig
from kdssm.data import matched_filter, simulate
from kdssm.data.simulate import SCENE_KINDS
from kdssm.evaluate import predict, split_scores
from kdssm.models import count_params

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default=str(ROOT / "runs/demo/sweep"), help="sweep folder (pareto.json)")
    parser.add_argument("--teacher", default=str(ROOT / "runs/demo/teacher"), help="teacher run folder")
    parser.add_argument("--columns", type=int, default=512, help="columns of each kind")
    parser.add_argument("--seed", type=int, default=3, help="the columns' seed (3: the card's test split)")
    parser.add_argument("--name", default="scene_kinds", help="benchmarks/results/<name>.json")
    args = parser.parse_args()
    teacher = Path(args.teacher)
    preset = RunConfig.from_file(teacher / "config.yaml").data.preset
    models = {name: load_model(ckpt) for name, ckpt, _ in front_checkpoints(Path(args.sweep), teacher)}
    kinds = {}
    for kind, scene in SCENE_KINDS.items():
        x, y = simulate(preset, args.columns, args.seed, kind=kind)  # (N, L, 2), (N, L, 1) complex64
        mf = split_scores(matched_filter(x, preset), x, y, preset)
        rows = {"matched filter": mf | {"params": 0}}
        for name, model in models.items():
            s = split_scores(predict(model, x), x, y, preset)
            rows[name] = s | {
                "params": count_params(model),
                "beats_filter_whole": s["nmse_db"] < mf["nmse_db"],
                "beats_filter_valid": s["nmse_valid_db"] < mf["nmse_valid_db"],
            }
        kinds[kind] = {"targets_per_column": scene.targets_per_column, "snr_db": list(scene.snr_db), "scores": rows}
        print(
            f"{kind:>12}: " + "  ".join(f"{n} {r['nmse_db']:.2f}/{r['nmse_valid_db']:.2f}" for n, r in rows.items()),
            flush=True,
        )
    path = write_result(
        args.name,
        {
            "preset": preset,
            "columns": args.columns,
            "seed": args.seed,
            "teacher_dir": str(teacher),
            "sweep_dir": str(args.sweep),
            "kinds": kinds,
        },
    )
    print(f"-> {path}")


if __name__ == "__main__":
    main()
