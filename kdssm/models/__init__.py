"""Models: complex layers, S4D, sarSSM. Imports neither Lightning, Ray, Optuna nor MLflow."""

from .presets import MODEL_PRESETS
from .sarssm import SarSSM, count_params, freeze_focusing_path, parameter_groups

MODELS = {"sarSSM": SarSSM}


def build_model(config, *, initialise: bool = True) -> SarSSM:
    """A model from a ModelConfig (the registry picks the family named in config.name).

    initialise=False: weights are loaded next, so the start (the matched-filter least squares) is skipped.
    """
    return MODELS[config.name](config, initialise=initialise)


__all__ = [
    "MODELS",
    "MODEL_PRESETS",
    "SarSSM",
    "build_model",
    "count_params",
    "freeze_focusing_path",
    "parameter_groups",
]
