"""Data: the data-card simulator, the matched-filter baseline and column datasets."""

from ..geometry import PRESETS, get_preset
from .baseline import matched_filter
from .simulate import point_target, simulate

__all__ = ["PRESETS", "get_preset", "matched_filter", "point_target", "simulate"]
