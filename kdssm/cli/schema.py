"""`kdssm schema`: the JSON Schema of a run YAML, for editors (completion and checks as you type)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import json_schema
from .parser import add_print_config


def cmd_schema(args: argparse.Namespace) -> int:
    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out} (point your editor's YAML schema setting at it)")
    else:
        print(text, end="")
    return 0


def register(sub) -> None:
    sch = sub.add_parser("schema", help="print the JSON Schema of run YAML files (for editors)")
    sch.add_argument("--out", help="write it to this file instead of printing it")
    add_print_config(sch)
    sch.set_defaults(func=cmd_schema)
