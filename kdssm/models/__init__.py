"""Models: complex layers, S4D, sarSSM. Imports neither Lightning, Ray, Optuna nor MLflow."""

from .presets import MODEL_PRESETS
from .sarssm import SarSSM, count_params, parameter_groups

MODELS = {"sarSSM": SarSSM}


def build_model(config) -> SarSSM:
    """A model from a ModelConfig (the registry picks the family named in config.name)."""
    return MODELS[config.name](config)


__all__ = ["MODELS", "MODEL_PRESETS", "SarSSM", "build_model", "count_params", "parameter_groups"]
