"""The model section (a sarSSM's sizes, gates, range conditioning, initialisation) and the geometry check."""

from __future__ import annotations

import typing
from typing import Any, Literal

from pydantic import Field, field_validator

from .base import ConfigError, Even, Section, finite_positive

GEOMETRY_FIELDS = (
    "wavelength_m",
    "velocity_m_s",
    "prf_hz",
    "antenna_length_m",
    "slant_range_near_m",
    "slant_range_far_m",
)
INPUT_CHANNELS = 2  # the data contract: the raw line and its positional encoding
OUTPUT_CHANNELS = 1  # the focused line
# Keys older files (the seed's YAML, checkpoints before they were removed) carry with the one value they
# could hold; dropped on load, any other value refused. `kernel` was a test twin's switch (SarSSM(kernel=)).
LEGACY_KEYS = {
    "input_dim": INPUT_CHANNELS,
    "output_dim": OUTPUT_CHANNELS,
    "complex_valued": True,
    "use_positional_as_token": False,
    "kernel": "fast",
}
GateLayers = Literal["all", "last", "not_first"]
GATE_LAYERS = typing.get_args(GateLayers)


class ModelConfig(Section):
    """A sarSSM: input projection, residual S4D layers, optional gates, output projection."""

    SECTION = "model"
    name: Literal["sarSSM"] = Field("sarSSM", description="model family (registry key)")
    model_dim: int = Field(64, ge=1, description="H, complex channels of the residual stream")
    state_dim: Even = Field(540, ge=2, description="N, S4D state size; N/2 complex diagonal modes per channel")
    later_state_dim: Even | None = Field(
        None,
        ge=2,
        description="state size of layers 2..num_layers (empty: state_dim); the first layer focuses and needs "
        "the matched filter's modes, the later ones restore edges and may need far fewer",
    )
    num_layers: int = Field(6, ge=1, description="number of residual S4D layers")
    dropout: float = Field(0.1, ge=0.0, le=0.95, description="complex dropout on each residual update")
    use_selectivity: bool = Field(
        True,
        description="selectivity gates: a complex gain a + jb = MLP(log(1 + |W v|), position in the column, p) "
        "per sample, multiplying a layer's update (models/gate.py)",
    )
    gate_layers: GateLayers = Field(
        "not_first",
        description="which layers carry a gate: all, last, or not_first "
        "(the first layer focuses; gates act on what it focused)",
    )
    gate_width: int = Field(8, ge=0, description="complex projections whose magnitudes feed a gate (0: no gates)")
    gate_hidden: int = Field(32, ge=1, description="hidden width of the selectivity gate MLP")
    gate_region: Literal["all", "edges"] = Field(
        "all",
        description="where gates act: all samples, or edges only (samples within half an aperture of "
        "a column's end; elsewhere a gated layer adds nothing, so the valid region keeps what the ungated "
        "layers focus)",
    )
    bidirectional: bool = Field(True, description="two-sided kernel (focusing needs past and future samples)")
    range_conditioning: bool = Field(True, description="condition each layer's kernels on the slant range")
    range_grid: int = Field(
        8, ge=2, description="grid points of range-conditioned kernels when the geometry is unknown"
    )
    range_points_per_aperture: int = Field(
        3,
        ge=2,
        description="grid points per aperture length when the geometry "
        "is known (kernels interpolate only within one aperture length)",
    )
    aperture_gain: bool = Field(
        False,
        description="scale each grid point's kernels by sqrt(Ta PRF / Na): the card's reference amplitude "
        "1/sqrt(Na) steps with Na's rounding, which one continuous response cannot follow (on mini it bounds "
        "the matched-filter fit at -47.5 dB; with the gain -60); needs the geometry",
    )
    valid_shrink: bool = Field(
        False,
        description="a learned real gain on the focused line inside the valid region, from its local power "
        "against the column's noise power (estimated from out-of-band Doppler content, bright targets "
        "excluded); starts at 1 (the model as it is), denoises where noise dominates; needs the geometry; "
        "a shrunk model cannot be folded (kdssm focus runs it on tiles)",
    )
    shrink_targets: bool = Field(
        False,
        description="with valid_shrink: subtract the point targets that CLEAN finds in the valid region "
        "(their focused responses, fitted at fractional positions) and shrink only the rest, so the noise "
        "beside a bright target's sidelobes is shrunk too and the target stays whole",
    )
    geometry: dict | None = Field(
        None,
        description="acquisition geometry the model focuses (the data card's six "
        "fields); empty: taken from the data section when a run starts",
    )
    init: Literal["auto", "matched_filter", "random"] = Field(
        "auto",
        description="matched_filter: kernels, mixing and projections set so the untrained model is the "
        "matched filter (needs the geometry); random: S4D-Lin; auto: matched_filter where possible",
    )
    activation: Literal["identity", "gelu", "tanh", "silu", "modrelu"] = Field(
        "identity",
        description="activation after each S4D layer (identity and modrelu keep the model "
        "phase-equivariant, the split ones do not)",
    )
    norm: Literal["none", "layer"] = Field("none", description="complex norm before each S4D layer")
    scale_equivariant: bool = Field(True, description="divide each column by its rms and multiply back after")
    dt_min: float = Field(1e-3, gt=0.0, description="smallest initial S4D step size (random init)")
    dt_max: float = Field(1e-1, gt=0.0, description="largest initial S4D step size (random init)")

    @classmethod
    def from_dict(cls, data: dict | None):
        """As for every section; the legacy keys of older files dropped (LEGACY_KEYS)."""
        if isinstance(data, dict) and LEGACY_KEYS.keys() & data.keys():
            for key, only in LEGACY_KEYS.items():
                if key in data and data[key] != only and not (key == "kernel" and data[key] == "reference"):
                    raise ConfigError(f"model.{key}: can only be {only!r} (the field is gone), got {data[key]!r}")
            data = {k: v for k, v in data.items() if k not in LEGACY_KEYS}
        return super().from_dict(data)

    @field_validator("geometry")
    @classmethod
    def _geometry(cls, value: dict | None) -> dict | None:
        if value is not None:
            check_geometry("model.geometry", value)
        return value

    def check(self) -> None:
        if self.dt_min > self.dt_max:
            raise ConfigError(f"model.dt_min: must be <= model.dt_max ({self.dt_max}), got {self.dt_min}")
        if self.gate_region == "edges" and self.gated and len(self.gated_layer_indices) == self.num_layers:
            raise ConfigError(
                "model.gate_region: edges leaves the valid region to the ungated layers, and every layer is gated "
                f"(gate_layers {self.gate_layers}, {self.num_layers} layer(s)); use gate_layers not_first or last "
                "with 2 or more layers"
            )

    @property
    def layer_state_dims(self) -> list[int]:
        """State size of each layer: state_dim for the first, later_state_dim (or state_dim) after it."""
        later = self.state_dim if self.later_state_dim is None else self.later_state_dim
        return [self.state_dim] + [later] * (self.num_layers - 1)

    @property
    def size_label(self) -> str:
        """model_dim/state_dim/num_layers (size_label())."""
        return size_label(self.model_dim, self.state_dim, self.later_state_dim, self.num_layers)

    @property
    def gated(self) -> bool:
        return self.use_selectivity and self.gate_width > 0

    @property
    def gated_layer_indices(self) -> list[int]:
        """Indices of the layers that carry a gate (none without one)."""
        if not self.gated:
            return []
        n = self.num_layers
        return {"all": list(range(n)), "last": [n - 1], "not_first": list(range(1, n))}[self.gate_layers]

    def matched_filter_blocker(self) -> str:
        """Why this model cannot start as the matched filter ('' when it can)."""
        if self.geometry is None:
            return (
                "needs the acquisition geometry (a data preset, or data.wavelength_m ... "
                "data.slant_range_far_m for .npz columns)"
            )
        if not self.range_conditioning:
            return "needs model.range_conditioning (the reference function changes with range)"
        if not self.bidirectional:
            return "needs model.bidirectional (the reference function is two-sided)"
        if self.norm != "none":
            return "needs model.norm none (a norm would remove the stream that carries the raw line)"
        if self.activation not in ("identity", "modrelu"):
            return f"needs model.activation identity or modrelu, not {self.activation}"
        return ""


def size_label(model_dim: int, state_dim: int, later_state_dim: int | None, num_layers: int) -> str:
    """'16/256/3'; with a different state size in the later layers '2/256:64/3'."""
    state = f"{state_dim}" if later_state_dim in (None, state_dim) else f"{state_dim}:{later_state_dim}"
    return f"{model_dim}/{state}/{num_layers}"


def check_geometry(key: str, geometry: Any) -> None:
    """A geometry mapping: the data card's six fields, positive finite numbers, near < far."""
    if not isinstance(geometry, dict):
        raise ConfigError(f"{key}: expected a mapping of {', '.join(GEOMETRY_FIELDS)}")
    for name in geometry:
        if name not in GEOMETRY_FIELDS:
            raise ConfigError(f"{key}.{name}: unknown key (known: {', '.join(GEOMETRY_FIELDS)})")
    for name in GEOMETRY_FIELDS:
        if name not in geometry:
            raise ConfigError(f"{key}.{name}: missing (a geometry states all six fields)")
        finite_positive(f"{key}.{name}", geometry[name])
    if geometry["slant_range_near_m"] >= geometry["slant_range_far_m"]:
        raise ConfigError(
            f"{key}.slant_range_near_m: must be < slant_range_far_m "
            f"({geometry['slant_range_far_m']}), got {geometry['slant_range_near_m']}"
        )
