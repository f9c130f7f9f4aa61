"""kdssm: distil complex sarSSM focusing models into smaller, faster students."""

from .checkpoint import load_model

__version__ = "0.1.0"
__all__ = ["__version__", "load_model"]
