"""Models: complex layers, S4D, sarSSM. Imports neither Lightning, Ray, Optuna nor MLflow.

The names below load on first use (PEP 562): `kdssm.models.presets` (sizes, no torch) is read by the
command line's parser, which answers `--help` and a bad flag without loading torch.
"""

from .presets import MODEL_PRESETS

_FROM_SARSSM = ("SarSSM", "count_params", "freeze_focusing_path", "parameter_groups")


def build_model(config, *, initialise: bool = True):
    """A model from a ModelConfig (the registry picks the family named in config.name).

    initialise=False: weights are loaded next, so the start (the matched-filter least squares) is skipped.
    """
    return __getattr__("MODELS")[config.name](config, initialise=initialise)


def __getattr__(name: str):
    if name in _FROM_SARSSM or name == "MODELS":
        from . import sarssm

        if name == "MODELS":  # the registry of model families, made once (a new family is added to it)
            globals()["MODELS"] = {"sarSSM": sarssm.SarSSM}
            return globals()["MODELS"]
        return getattr(sarssm, name)
    raise AttributeError(f"module 'kdssm.models' has no attribute {name!r}")


__all__ = [
    "MODELS",
    "MODEL_PRESETS",
    "SarSSM",
    "build_model",
    "count_params",
    "freeze_focusing_path",
    "parameter_groups",
]
