"""How fast the command line answers: every subcommand's `--help`, and three argument errors, each in a
fresh process as a user meets it (issue 28: under 1 s on this machine).

    python benchmarks/cli_startup.py [--repeats 3] [--baseline /path/to/an/older/checkout]

The median wall time of `kdssm <command> --help` and of the errors over --repeats runs; with --baseline,
the same commands of that checkout (its kdssm first on PYTHONPATH) alternate with these, so the two are
measured side by side. Writes benchmarks/results/cli_startup.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["train", "distill", "sweep", "demo", "plan", "evaluate", "compare", "focus", "export", "scene"]
COMMANDS += ["pareto", "schema"]
ERRORS = {
    "unknown flag": ["train", "--bogus", "1"],
    "bad value": ["train", "--num_epochs", "-1"],
    "bad --set": ["distill", "--teacher_checkpoint", "x", "--set", "model.nope=1"],
}


def seconds(argv: list[str], checkout: Path = ROOT) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kdssm.cli", *argv], cwd=checkout, capture_output=True, env=env, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="an older checkout to time beside this one")
    args = parser.parse_args()
    runs = {f"{c} --help": [c, "--help"] for c in COMMANDS} | ERRORS
    checkouts = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    times: dict[str, dict[str, list[float]]] = {k: {name: [] for name in runs} for k in checkouts}
    for _ in range(args.repeats):
        for name, argv in runs.items():
            for which, checkout in checkouts.items():  # alternating: the same load for both
                times[which][name].append(seconds(argv, checkout))
    median = {k: {name: round(statistics.median(v), 3) for name, v in t.items()} for k, t in times.items()}
    for name in runs:
        base = f"  (baseline {median['baseline'][name]:.3f} s)" if "baseline" in median else ""
        print(f"{name:24s} {median['this'][name]:.3f} s{base}")
    result = {"repeats": args.repeats, "median_seconds": median["this"], "slowest_s": max(median["this"].values())}
    if "baseline" in median:
        result["baseline"] = {"checkout": str(args.baseline), "median_seconds": median["baseline"]}
        result["speedup_over_baseline"] = {n: round(median["baseline"][n] / median["this"][n], 1) for n in runs}
    write_result("cli_startup", result)


if __name__ == "__main__":
    main()
