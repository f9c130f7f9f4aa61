"""The physical limit of focusing, per scene kind and preset: a genie that knows every point target, the
clutter's texture and the noise power estimates the clutter by linear MMSE (kdssm/data/limit.py), beside
the matched filter and the models given, whole column and valid region.

    python benchmarks/bounds.py --models runs/demo/teacher runs/demo/sweep/trials/<id> [--columns 256]
    python benchmarks/bounds.py --models ... --kinds smooth_texture rough_texture bright_targets \
        faint_targets targets_at_ends --name bounds_open_statistics

Held-out columns of this project's simulator (seed 11, never a training, validation or test seed of the
demo); the limit in closed form and, as its check, the genie's estimator run on the columns' own clutter
and noise (Monte Carlo). A model is scored on the preset whose geometry it was trained for. s1 columns
cost ~1 s each for the genie (L^3), so s1 uses fewer of them (--s1_columns).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from common import write_result

from kdssm import metrics
from kdssm.checkpoint import load_model
from kdssm.data import matched_filter, simulate
from kdssm.data.limit import split_limit
from kdssm.data.simulate import SCENE_KINDS
from kdssm.evaluate import predict
from kdssm.geometry import PRESETS, preset_of
from kdssm.models import count_params

SEED = 11


def scores(y_hat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, preset: str) -> dict:
    return {"nmse_db": metrics.nmse_db(y_hat, y), "nmse_valid_db": metrics.nmse_valid_db(y_hat, y, x, preset)}


ARCHITECTURE = ("num_layers", "model_dim", "state_dim", "gate_width", "gate_hidden", "valid_shrink", "shrink_targets")


def architecture(model: torch.nn.Module) -> dict:
    """What a row's model is: its depth, widths, gate and shrink options and its parameter count."""
    fields = {key: getattr(model.config, key) for key in ARCHITECTURE}
    return fields | {"params": count_params(model)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=[], type=Path, help="run folders or model.ckpt files")
    parser.add_argument("--columns", type=int, default=256, help="mini columns per scene kind")
    parser.add_argument("--s1_columns", type=int, default=16, help="s1 columns per scene kind")
    parser.add_argument("--presets", nargs="+", default=["mini", "s1"], choices=tuple(PRESETS))
    parser.add_argument("--kinds", nargs="+", default=list(SCENE_KINDS), choices=tuple(SCENE_KINDS))
    parser.add_argument("--name", default="bounds", help="the results file's name")
    args = parser.parse_args()
    torch.set_num_threads(2)
    models = {}
    for path in args.models:
        model = load_model(path)
        if model.geometry is None or preset_of(model.geometry) is None:
            sys.exit(f"{path}: a bound needs a model trained for a preset's geometry (its six fields)")
        models[path.name if path.is_dir() else path.parent.name] = (model, preset_of(model.geometry))
    table = {}
    for preset in args.presets:
        n = args.columns if preset == "mini" else args.s1_columns
        for kind in args.kinds:
            x, y = simulate(preset, n, SEED, kind)
            limit = split_limit(preset, n, SEED, kind, monte_carlo=True)
            row = {"columns": n, "limit": limit, "matched_filter": scores(matched_filter(x, preset), x, y, preset)}
            for name, (model, trained) in models.items():
                if trained == preset:
                    row[name] = scores(predict(model, x), x, y, preset)
            for name in [k for k in row if k not in ("columns", "limit")]:
                row[name]["from_limit_db"] = row[name]["nmse_db"] - limit["nmse_db"]
                row[name]["from_limit_valid_db"] = row[name]["nmse_valid_db"] - limit["nmse_valid_db"]
            row["monte_carlo_minus_closed_form_db"] = {
                "whole": limit["monte_carlo_nmse_db"] - limit["nmse_db"],
                "valid": limit["monte_carlo_nmse_valid_db"] - limit["nmse_valid_db"],
            }
            table[f"{preset}.{kind}"] = row
            shown = ", ".join(
                f"{k} {v['nmse_db']:.2f}/{v['nmse_valid_db']:.2f}"
                for k, v in row.items()
                if isinstance(v, dict) and "nmse_db" in v
            )
            print(f"{preset:>4} {kind:>12}: {shown}", flush=True)
    shapes = {name: architecture(model) for name, (model, _) in models.items()}
    print(write_result(args.name, {"seed": SEED, "models": list(models), "architectures": shapes, "rows": table}))


if __name__ == "__main__":
    main()
