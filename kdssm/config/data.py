"""The data section: simulated columns of a data-card preset, or users' own .npz files."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import ConfigError, Section
from .model import GEOMETRY_FIELDS, check_geometry

Preset = Literal["mini", "s1"]
PRESETS = ("mini", "s1")
SceneKindName = Literal["card", "clutter_only", "dense", "very_dense", "low_snr"]  # data.simulate.SCENE_KINDS


class DataConfig(Section):
    """Where columns come from: the data-card simulator, or users' own .npz files."""

    SECTION = "data"
    preset: Preset = Field("mini", description="data-card preset (geometry and column length)")
    train_size: int = Field(4096, ge=1, description="simulated training columns")
    val_size: int = Field(256, ge=1, description="simulated validation columns")
    test_size: int = Field(512, ge=1, description="simulated test columns")
    train_seed: int = Field(1, ge=0, description="seed of the training split")
    val_seed: int = Field(2, ge=0, description="seed of the validation split")
    test_seed: int = Field(3, ge=0, description="seed of the test split")
    train_npz: str | None = Field(None, description="use these columns (x, y arrays) instead of simulating")
    val_npz: str | None = Field(None, description="validation columns from a .npz file")
    test_npz: str | None = Field(None, description="test columns from a .npz file")
    unlabelled_size: int = Field(
        0,
        ge=0,
        description="simulated columns whose ground truth is never read: the teacher labels them (distillation only)",
    )
    unlabelled_seed: int = Field(4, ge=0, description="seed of the unlabelled columns")
    train_scenes: dict[SceneKindName, float] | None = Field(
        None,
        description="simulated training (and unlabelled) columns drawn from these scene kinds with these "
        "weights, e.g. {card: 0.4, clutter_only: 0.3, dense: 0.3}; default the card's columns alone. "
        "Validation and test columns stay the card's",
    )
    unlabelled_npz: str | None = Field(
        None, description="unlabelled columns from a .npz file holding x only (distillation only)"
    )
    wavelength_m: float | None = Field(
        None,
        gt=0.0,
        description="geometry of the columns: radar wavelength (m); "
        "the six geometry fields replace the preset's (state all six, or none)",
    )
    velocity_m_s: float | None = Field(None, gt=0.0, description="geometry: platform velocity (m/s)")
    prf_hz: float | None = Field(None, gt=0.0, description="geometry: pulse repetition frequency (Hz)")
    antenna_length_m: float | None = Field(None, gt=0.0, description="geometry: azimuth antenna length (m)")
    slant_range_near_m: float | None = Field(None, gt=0.0, description="geometry: slant range at p = 0 (m)")
    slant_range_far_m: float | None = Field(None, gt=0.0, description="geometry: slant range at p = 1 (m)")

    def check(self) -> None:
        seeds = (self.train_seed, self.val_seed, self.test_seed)
        if len(set(seeds)) != 3:
            raise ConfigError(f"data.*_seed: train, validation and test seeds must differ, got {seeds}")
        if self.unlabelled_size and not self.unlabelled_npz and self.unlabelled_seed in seeds:
            raise ConfigError(
                f"data.unlabelled_seed: must differ from the train, validation and test seeds "
                f"{seeds}, got {self.unlabelled_seed}"
            )
        if self.train_scenes is not None:
            weights = self.train_scenes.values()
            if any(w < 0 or w != w for w in weights) or sum(weights) <= 0:
                raise ConfigError(
                    f"data.train_scenes: weights must be >= 0 with a positive sum, got {dict(self.train_scenes)}"
                )
        given = {name: getattr(self, name) for name in GEOMETRY_FIELDS if getattr(self, name) is not None}
        if given:
            check_geometry("data", given)

    @property
    def has_unlabelled(self) -> bool:
        return bool(self.unlabelled_npz) or self.unlabelled_size > 0

    def stated_geometry(self) -> dict | None:
        """The six geometry fields when stated, else None."""
        values = {name: getattr(self, name) for name in GEOMETRY_FIELDS}
        return values if all(v is not None for v in values.values()) else None
