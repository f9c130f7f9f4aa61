"""The data section: simulated columns of a data-card preset, users' own .npz files, or Maya4-layout products."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import ConfigError, Section
from .model import GEOMETRY_FIELDS, check_geometry

Preset = Literal["mini", "s1"]
PRESETS = ("mini", "s1")
SceneKindName = Literal[
    "card",
    "clutter_only",
    "dense",
    "very_dense",
    "low_snr",
    "smooth_texture",
    "rough_texture",
    "bright_targets",
    "faint_targets",
    "targets_at_ends",
]  # fmt: skip  (data.simulate.SCENE_KINDS)


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
        "Validation and test columns stay the card's; not used with data.products",
    )
    unlabelled_npz: str | None = Field(
        None, description="unlabelled columns from a .npz file holding x only (distillation only)"
    )
    products: str | None = Field(
        None,
        description="Maya4-layout Sentinel-1 products (Zarr groups; paths, globs or folders, comma-separated) "
        "whose columns replace the simulated ones: range bins of product_level cut into L-line tiles, the "
        "target from az; train / validation / test from azimuth blocks that never share ground; products "
        "without az give the unlabelled columns (distillation). Geometry from the products' metadata, "
        "each geometry field stated here overriding",
    )
    product_level: Literal["rcmc", "rc"] = Field("rcmc", description="the products' input level")
    product_blocks: int = Field(10, ge=3, description="azimuth blocks per product dealt to train / validation / test")
    product_val_fraction: float = Field(0.1, gt=0.0, lt=0.5, description="share of a product's blocks for validation")
    product_test_fraction: float = Field(0.1, gt=0.0, lt=0.5, description="share of a product's blocks for test")
    product_cache_mb: int = Field(
        256, ge=1, description="decoded product chunks held in memory at most (MB), least recently used evicted"
    )
    product_scale: float | None = Field(
        None,
        gt=0.0,
        description="divide the products' levels by this (the data card's clutter rms 1); default the "
        "product's column_scale attribute, else estimated on its focused level",
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
        given = self.stated_fields()
        if self.products:
            files = [f"data.{w}_npz" for w in ("train", "val", "test", "unlabelled") if getattr(self, f"{w}_npz")]
            if files:
                raise ConfigError(f"data.products: the columns come from products or from {files[0]}, not both")
            near, far = given.get("slant_range_near_m"), given.get("slant_range_far_m")
            if near is not None and far is not None and near >= far:
                raise ConfigError(f"data.slant_range_near_m: must be < slant_range_far_m ({far}), got {near}")
        elif given:  # products may state single fields (the rest derived); simulated or .npz columns all six
            check_geometry("data", given)

    @property
    def has_unlabelled(self) -> bool:
        return bool(self.unlabelled_npz) or self.unlabelled_size > 0

    def stated_fields(self) -> dict:
        """The geometry fields stated (products: each overrides the derived one)."""
        return {name: getattr(self, name) for name in GEOMETRY_FIELDS if getattr(self, name) is not None}

    def stated_geometry(self) -> dict | None:
        """The six geometry fields when stated, else None."""
        values = {name: getattr(self, name) for name in GEOMETRY_FIELDS}
        return values if all(v is not None for v in values.values()) else None
