"""How fast the command line answers: every subcommand's `--help`, and three argument errors, each in a
fresh process as a user meets it (issue 28: under 1 s on this machine).

    python benchmarks/cli_startup.py [--repeats 3]

The median wall time of `kdssm <command> --help` and of the errors over --repeats runs; writes
benchmarks/results/cli_startup.json.
"""

from __future__ import annotations

import argparse
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


def seconds(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kdssm.cli", *argv], cwd=ROOT, capture_output=True, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = {f"{c} --help": [c, "--help"] for c in COMMANDS} | ERRORS
    median = {
        name: round(statistics.median(seconds(argv) for _ in range(args.repeats)), 3) for name, argv in runs.items()
    }
    for name, s in median.items():
        print(f"{name:24s} {s:.3f} s")
    write_result("cli_startup", {"repeats": args.repeats, "median_seconds": median, "slowest_s": max(median.values())})


if __name__ == "__main__":
    main()
