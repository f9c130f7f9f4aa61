"""`kdssm` command line: one module per group of subcommands, flags generated from the config models."""

from .distill import size_against_teacher
from .main import build_parser, main
from .parser import UserError

__all__ = ["UserError", "build_parser", "main", "size_against_teacher"]
