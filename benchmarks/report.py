"""benchmarks/README.md from the committed results: every figure in it is read from a JSON in
benchmarks/results/, so the page cannot disagree with what was measured.

    python benchmarks/report.py           # rewrite benchmarks/README.md
    python benchmarks/report.py --check   # exit 1 if it is out of date (tests/test_benchmarks_report.py)

One section per JSON: the script that wrote it and the first line of that script's docstring, when and
on what machine, then each measured value under its path in the JSON (configs and folders left out).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PAGE = HERE / "README.md"
SKIPPED = {"benchmark", "measured_at", "machine", "config", "student", "distillation", "recipe", "setup"}
SKIPPED_SUFFIXES = ("_dir", "_path")


def script_of(name: str) -> Path | None:
    """The benchmark script whose name is the longest prefix of a result's name (distill_gain_fewer ->
    distill_gain.py)."""
    scripts = sorted(HERE.glob("*.py"), key=lambda p: -len(p.stem))
    return next((p for p in scripts if name == p.stem or name.startswith(p.stem + "_")), None)


def purpose(script: Path | None) -> str:
    if script is None:
        return ""
    doc = ast.get_docstring(ast.parse(script.read_text())) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def rows(value, path: str = ""):
    """(path, shown value) of every leaf; lists of numbers inline, lists of mappings by index."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in SKIPPED or key.endswith(SKIPPED_SUFFIXES):
                continue
            yield from rows(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        for i, inner in enumerate(value):
            yield from rows(inner, f"{path}[{i}]")
    else:
        yield path, json.dumps(value)


def machine(record: dict) -> str:
    m = record.get("machine") or {}
    if not isinstance(m, dict):
        return str(m)
    return ", ".join(f"{k} {v}" for k, v in m.items() if not isinstance(v, (dict, list)))


def render() -> str:
    out = [
        "# Benchmarks: what was measured",
        "",
        "Written by `python benchmarks/report.py` from `benchmarks/results/*.json`; do not edit by hand.",
        "Each script's docstring says how to run it. Timings are ratios measured side by side in one run",
        "where the script compares; absolute seconds move with the machine's load (up to 5x here).",
        "",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        record = json.loads(path.read_text())
        script = script_of(path.stem)
        out += [f"## {path.stem}", ""]
        if script is not None:
            out += [f"`benchmarks/{script.name}`: {purpose(script)}", ""]
        out += [f"Measured {record.get('measured_at', '?')} on {machine(record)}; `results/{path.name}`.", ""]
        out += ["| value | measured |", "|---|---|"]
        out += [f"| `{name}` | {shown} |" for name, shown in rows(record)]
        out.append("")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if benchmarks/README.md is out of date")
    args = parser.parse_args()
    page = render()
    if args.check:
        if not PAGE.is_file() or PAGE.read_text() != page:
            print("benchmarks/README.md is out of date: run python benchmarks/report.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
