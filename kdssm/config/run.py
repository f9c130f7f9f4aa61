"""A whole run's configuration: one instance of each section, YAML in and out, flags over it."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from .base import STRICT, ConfigError, Section, load_yaml
from .data import DataConfig
from .model import ModelConfig
from .search import SearchConfig, TrackingConfig
from .training import DistillConfig, TrainConfig

SECTIONS: dict[str, type[Section]] = {
    "model": ModelConfig,
    "data": DataConfig,
    "training": TrainConfig,
    "distillation": DistillConfig,
    "search": SearchConfig,
    "tracking": TrackingConfig,
}


class RunConfig(BaseModel):
    """A whole run: one instance of each section."""

    model_config = STRICT
    model: ModelConfig = Field(default_factory=ModelConfig, description="the network")
    data: DataConfig = Field(default_factory=DataConfig, description="the columns")
    training: TrainConfig = Field(default_factory=TrainConfig, description="the optimisation")
    distillation: DistillConfig = Field(default_factory=DistillConfig, description="the teacher's terms")
    search: SearchConfig = Field(default_factory=SearchConfig, description="the student search (kdssm sweep)")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="MLflow (kdssm sweep)")

    @classmethod
    def from_dict(cls, data: dict | None) -> RunConfig:
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ConfigError(f"config: expected a mapping of sections, got {type(data).__name__}")
        for key in data:
            if key not in SECTIONS:
                raise ConfigError(f"{key}: unknown section (known: {', '.join(SECTIONS)})")
        return cls(**{name: sec.from_dict(data.get(name)) for name, sec in SECTIONS.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        return cls.from_dict(load_yaml(path))

    def to_dict(self) -> dict:
        return {name: getattr(self, name).to_dict() for name in SECTIONS}

    def with_overrides(self, overrides: dict[str, dict]) -> RunConfig:
        """`overrides` maps section -> {field: value}; the result is validated again."""
        merged = self.to_dict()
        for section, values in overrides.items():
            merged[section].update(values)
        return RunConfig.from_dict(merged)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def dump(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml())


def json_schema() -> dict:
    """The JSON Schema of a run YAML (for editors: completion and checks as you type)."""
    schema = RunConfig.model_json_schema()
    schema["title"] = "kdssm run config"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def field_index() -> dict[str, tuple[str, FieldInfo]]:
    """Flag name -> (section, field) for every field; names are unique across sections."""
    index: dict[str, tuple[str, FieldInfo]] = {}
    for section, cls in SECTIONS.items():
        for name, info in cls.model_fields.items():
            assert name not in index, f"config field name {name} is not unique"
            index[name] = (section, info)
    return index
