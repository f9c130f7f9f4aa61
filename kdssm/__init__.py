"""kdssm: distil complex sarSSM focusing models into smaller, faster students."""

__version__ = "0.1.0"
__all__ = ["__version__", "load_model"]


def __getattr__(name: str):
    """kdssm.load_model on first use: `import kdssm.<module>` alone does not load torch (a sweep's rung
    board, a Ray actor of its own, imports only what it needs)."""
    if name == "load_model":
        from .checkpoint import load_model

        return load_model
    raise AttributeError(f"module 'kdssm' has no attribute {name!r}")
