"""Does a latency measured beside the matched filter hold still when the machine is busy? (issue 29)

    python benchmarks/latency_stability.py [--rounds 5]

Two models (a tiny gated student, the demo teacher's size) through their inference implementation,
each timed with evaluate.latency_vs_filter (the fastest of 7 alternating calls beside the matched
filter, batch 32, one thread) --rounds times with the machine idle and --rounds times with two busy
processes on its two cores. Reported per model and condition: milliseconds per column and the ratio to
the filter (median and relative spread, (max - min) / median), and the shift of each figure's median
from idle to busy; beside them the MAC count (models/cost.py), which no load moves.
Writes benchmarks/results/latency_stability.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from kdssm.data import simulate  # noqa: E402
from kdssm.evaluate import latency_vs_filter  # noqa: E402
from kdssm.geometry import PRESETS  # noqa: E402
from kdssm.inference import InferenceModel  # noqa: E402
from kdssm.models import SarSSM  # noqa: E402
from kdssm.models.cost import macs_per_column  # noqa: E402

BUSY = "while True: pass"


def figures(values: list[float]) -> dict:
    median = statistics.median(values)
    return {"median": median, "relative_spread": (max(values) - min(values)) / median, "runs": values}


def measure(models: dict, x: torch.Tensor, rounds: int) -> dict:
    out = {}
    for name, model in models.items():
        got = [latency_vs_filter(model, x, "mini") for _ in range(rounds)]
        out[name] = {
            "ms_per_column": figures([g["latency_ms_per_column"] for g in got]),
            "ratio_to_filter": figures([g["latency_vs_filter"] for g in got]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    geometry = PRESETS["mini"].geometry().to_dict()
    built = {
        "student 4/32/2 gated": SarSSM(model_dim=4, state_dim=32, num_layers=2, gate_width=4, geometry=geometry),
        "teacher 16/128/3": SarSSM(model_dim=16, state_dim=128, num_layers=3, geometry=geometry),
    }
    models = {name: InferenceModel(m) for name, m in built.items()}
    x, _ = simulate("mini", 32, seed=1)
    idle = measure(models, x, args.rounds)
    burners = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        busy = measure(models, x, args.rounds)
    finally:
        for p in burners:
            p.kill()
            p.wait()
    result = {"rounds": args.rounds, "models": {}}
    for name in models:
        result["models"][name] = {
            "macs_per_column": macs_per_column(built[name], 256),
            "idle": idle[name],
            "busy": busy[name],
            "median_shift_busy_over_idle": {
                key: busy[name][key]["median"] / idle[name][key]["median"]
                for key in ("ms_per_column", "ratio_to_filter")
            },
        }
        shift = result["models"][name]["median_shift_busy_over_idle"]
        print(f"{name}: ms x{shift['ms_per_column']:.2f}, ratio x{shift['ratio_to_filter']:.2f} when busy", flush=True)
    write_result("latency_stability", result)


if __name__ == "__main__":
    main()
