"""Typed configuration: one strict pydantic model per concern, validated on construction, YAML in and out."""

from .base import ConfigError, Section, choices_of, explain, is_even, load_yaml
from .data import PRESETS, DataConfig
from .model import GATE_LAYERS, GEOMETRY_FIELDS, ModelConfig, check_geometry, size_label
from .run import SECTIONS, RunConfig, field_index, json_schema
from .search import SearchConfig, TrackingConfig
from .training import DistillConfig, TrainConfig

__all__ = [
    "GATE_LAYERS",
    "GEOMETRY_FIELDS",
    "PRESETS",
    "SECTIONS",
    "ConfigError",
    "DataConfig",
    "DistillConfig",
    "ModelConfig",
    "RunConfig",
    "SearchConfig",
    "Section",
    "TrackingConfig",
    "TrainConfig",
    "check_geometry",
    "choices_of",
    "explain",
    "field_index",
    "is_even",
    "json_schema",
    "load_yaml",
    "size_label",
]
