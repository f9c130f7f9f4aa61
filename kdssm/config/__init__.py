"""Typed configuration: one strict pydantic model per concern, validated on construction, YAML in and out."""
from .base import ConfigError, Section, choices_of, explain, is_even, load_yaml
from .data import PRESETS, DataConfig
from .model import GATE_LAYERS, GEOMETRY_FIELDS, ModelConfig, check_geometry
from .run import SECTIONS, RunConfig, field_index, json_schema
from .search import SearchConfig, TrackingConfig
from .training import DistillConfig, TrainConfig

__all__ = ["ConfigError", "Section", "choices_of", "explain", "is_even", "load_yaml", "PRESETS", "DataConfig",
           "GATE_LAYERS", "GEOMETRY_FIELDS", "ModelConfig", "check_geometry", "SECTIONS", "RunConfig", "field_index",
           "json_schema", "SearchConfig", "TrackingConfig", "DistillConfig", "TrainConfig"]
