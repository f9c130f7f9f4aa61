"""Typed configuration: one dataclass per concern, validated on construction, YAML in and out.

Every field carries its meaning and its allowed values in its metadata (see `spec`), so that
validation, CLI flags and error messages all come from one place.
"""
from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional

import yaml

PRESETS = ("mini", "s1")


class ConfigError(ValueError):
    """A user mistake in a configuration; its message is one line naming the key or file."""


def spec(default, help: str, *, low=None, high=None, choices=None, even: bool = False,
         low_open: bool = False):
    """A dataclass field with its documentation and bounds (low/high inclusive unless low_open)."""
    meta = {"help": help, "low": low, "high": high, "choices": choices, "even": even,
            "low_open": low_open}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(section: str, f: dataclasses.Field, value: Any, hints: dict) -> Any:
    """Check `value` against the field's type; ints are accepted where floats are expected."""
    key = f"{section}.{f.name}"
    tp = hints[f.name]
    origin = typing.get_origin(tp)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
        origin = typing.get_origin(tp)
    if tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return copy.deepcopy(value)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list of {_type_name(item_tp)}, got {value!r}")
        return [_coerce_scalar(key, item_tp, v) for v in value]
    return _coerce_scalar(key, tp, value)


def _coerce_scalar(key: str, tp, value: Any) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp} for {key}")


def _check_bounds(key: str, meta: dict, value: Any) -> None:
    if isinstance(value, dict):
        return
    items = value if isinstance(value, list) else [value]
    for v in items:
        if v is None:
            continue
        if meta["choices"] is not None and v not in meta["choices"]:
            allowed = ", ".join(map(str, meta["choices"]))
            raise ConfigError(f"{key}: {v!r} is not one of {allowed}")
        low, high = meta["low"], meta["high"]
        if low is not None and (v <= low if meta["low_open"] else v < low):
            rel = ">" if meta["low_open"] else ">="
            raise ConfigError(f"{key}: must be {rel} {low}, got {v!r}")
        if high is not None and v > high:
            raise ConfigError(f"{key}: must be <= {high}, got {v!r}")
        if meta["even"] and v % 2:
            raise ConfigError(f"{key}: must be even, got {v!r}")


class Section:
    """Mixin: validation in __post_init__, construction from a dict with unknown keys rejected."""

    SECTION = ""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = _coerce(self.SECTION, f, getattr(self, f.name), hints)
            _check_bounds(f"{self.SECTION}.{f.name}", f.metadata, value)
            object.__setattr__(self, f.name, value)
        self.check()

    def check(self) -> None:
        """Cross-field checks; sections override."""

    @classmethod
    def from_dict(cls, data: Optional[dict]):
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.SECTION}: expected a mapping of keys, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(f"{cls.SECTION}.{key}: unknown key (known: {', '.join(sorted(known))})")
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return self.from_dict({**self.to_dict(), **changes})


GEOMETRY_FIELDS = ("wavelength_m", "velocity_m_s", "prf_hz", "antenna_length_m", "slant_range_near_m",
                   "slant_range_far_m")
GATE_LAYERS = ("all", "last", "not_first")


@dataclass(frozen=True)
class ModelConfig(Section):
    """A sarSSM: input projection, residual S4D layers, optional gates, output projection."""

    SECTION = "model"
    name: str = spec("sarSSM", "model family (registry key)", choices=("sarSSM",))
    input_dim: int = spec(2, "input channels: raw line and positional encoding", low=1)
    output_dim: int = spec(1, "output channels: the focused line", low=1)
    model_dim: int = spec(64, "H, complex channels of the residual stream", low=1)
    state_dim: int = spec(540, "N, S4D state size; N/2 complex diagonal modes per channel",
                          low=2, even=True)
    num_layers: int = spec(6, "number of residual S4D layers", low=1)
    dropout: float = spec(0.1, "complex dropout on each residual update", low=0.0, high=0.95)
    use_selectivity: bool = spec(True, "selectivity gates: 2 sigmoid(MLP(|W u|, position in the column, p)) "
                                 "per step, scaling a layer's update")
    gate_layers: str = spec("not_first", "which layers carry a gate: all, last, or not_first (the first "
                            "layer focuses; gates act on what it focused)", choices=GATE_LAYERS)
    gate_width: int = spec(8, "complex projections whose magnitudes feed a gate (0: no gates)", low=0)
    gate_hidden: int = spec(32, "hidden width of the selectivity gate MLP", low=1)
    bidirectional: bool = spec(True, "two-sided kernel (focusing needs past and future samples)")
    range_conditioning: bool = spec(True, "condition each layer's kernels on the slant range")
    range_grid: int = spec(8, "grid points of range-conditioned kernels when the geometry is unknown", low=2)
    range_points_per_aperture: int = spec(3, "grid points per aperture length when the geometry is known "
                                          "(kernels interpolate only within one aperture length)", low=2)
    geometry: Optional[dict] = spec(None, "acquisition geometry the model focuses (the data card's six fields); "
                                    "empty: taken from the data section when a run starts")
    init: str = spec("auto", "matched_filter: kernels, mixing and projections set so the untrained model is the "
                     "matched filter (needs the geometry); random: S4D-Lin; auto: matched_filter where possible",
                     choices=("auto", "matched_filter", "random"))
    activation: str = spec("identity", "activation after each S4D layer (identity and modrelu keep the model "
                           "phase-equivariant, the split ones do not)",
                           choices=("identity", "gelu", "tanh", "silu", "modrelu"))
    norm: str = spec("none", "complex norm before each S4D layer", choices=("none", "layer"))
    scale_equivariant: bool = spec(True, "divide each column by its rms and multiply back after")
    dt_min: float = spec(1e-3, "smallest initial S4D step size (random init)", low=0.0, low_open=True)
    dt_max: float = spec(1e-1, "largest initial S4D step size (random init)", low=0.0, low_open=True)
    kernel: str = spec("fast", "S4D kernel path", choices=("fast", "reference"))
    complex_valued: bool = spec(True, "kept for the seed files; the model is always complex",
                                choices=(True,))
    use_positional_as_token: bool = spec(False, "kept for the seed files; not supported",
                                         choices=(False,))

    def check(self) -> None:
        if self.dt_min > self.dt_max:
            raise ConfigError(f"model.dt_min: must be <= model.dt_max ({self.dt_max}), got {self.dt_min}")
        if self.input_dim != 2 or self.output_dim != 1:
            raise ConfigError("model.input_dim/output_dim: the data contract fixes them to 2 and 1")
        if self.geometry is not None:
            check_geometry("model.geometry", self.geometry)

    @property
    def gated(self) -> bool:
        return self.use_selectivity and self.gate_width > 0

    def matched_filter_blocker(self) -> str:
        """Why this model cannot start as the matched filter ('' when it can)."""
        if self.geometry is None:
            return ("needs the acquisition geometry (a data preset, or data.wavelength_m ... "
                    "data.slant_range_far_m for .npz columns)")
        if not self.range_conditioning:
            return "needs model.range_conditioning (the reference function changes with range)"
        if not self.bidirectional:
            return "needs model.bidirectional (the reference function is two-sided)"
        if self.norm != "none":
            return "needs model.norm none (a norm would remove the stream that carries the raw line)"
        if self.activation not in ("identity", "modrelu"):
            return f"needs model.activation identity or modrelu, not {self.activation}"
        return ""


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
        value = _coerce_scalar(f"{key}.{name}", float, geometry[name])
        if value <= 0:
            raise ConfigError(f"{key}.{name}: must be > 0, got {value!r}")
    if geometry["slant_range_near_m"] >= geometry["slant_range_far_m"]:
        raise ConfigError(f"{key}.slant_range_near_m: must be < slant_range_far_m "
                          f"({geometry['slant_range_far_m']}), got {geometry['slant_range_near_m']}")


@dataclass(frozen=True)
class DataConfig(Section):
    """Where columns come from: the data-card simulator, or users' own .npz files."""

    SECTION = "data"
    preset: str = spec("mini", "data-card preset (geometry and column length)", choices=PRESETS)
    train_size: int = spec(4096, "simulated training columns", low=1)
    val_size: int = spec(256, "simulated validation columns", low=1)
    test_size: int = spec(512, "simulated test columns", low=1)
    train_seed: int = spec(1, "seed of the training split", low=0)
    val_seed: int = spec(2, "seed of the validation split", low=0)
    test_seed: int = spec(3, "seed of the test split", low=0)
    train_npz: Optional[str] = spec(None, "use these columns (x, y arrays) instead of simulating")
    val_npz: Optional[str] = spec(None, "validation columns from a .npz file")
    test_npz: Optional[str] = spec(None, "test columns from a .npz file")
    unlabelled_size: int = spec(0, "simulated columns whose ground truth is never read: the teacher labels "
                                "them (distillation only)", low=0)
    unlabelled_seed: int = spec(4, "seed of the unlabelled columns", low=0)
    unlabelled_npz: Optional[str] = spec(None, "unlabelled columns from a .npz file holding x only "
                                         "(distillation only)")
    wavelength_m: Optional[float] = spec(None, "geometry of the columns: radar wavelength (m); the six geometry "
                                         "fields replace the preset's (state all six, or none)",
                                         low=0.0, low_open=True)
    velocity_m_s: Optional[float] = spec(None, "geometry: platform velocity (m/s)", low=0.0, low_open=True)
    prf_hz: Optional[float] = spec(None, "geometry: pulse repetition frequency (Hz)", low=0.0, low_open=True)
    antenna_length_m: Optional[float] = spec(None, "geometry: azimuth antenna length (m)", low=0.0, low_open=True)
    slant_range_near_m: Optional[float] = spec(None, "geometry: slant range at p = 0 (m)", low=0.0, low_open=True)
    slant_range_far_m: Optional[float] = spec(None, "geometry: slant range at p = 1 (m)", low=0.0, low_open=True)

    def check(self) -> None:
        seeds = (self.train_seed, self.val_seed, self.test_seed)
        if len(set(seeds)) != 3:
            raise ConfigError(f"data.*_seed: train, validation and test seeds must differ, got {seeds}")
        if self.unlabelled_size and not self.unlabelled_npz and self.unlabelled_seed in seeds:
            raise ConfigError(f"data.unlabelled_seed: must differ from the train, validation and test seeds "
                              f"{seeds}, got {self.unlabelled_seed}")
        given = {name: getattr(self, name) for name in GEOMETRY_FIELDS if getattr(self, name) is not None}
        if given:
            check_geometry("data", given)

    @property
    def has_unlabelled(self) -> bool:
        return bool(self.unlabelled_npz) or self.unlabelled_size > 0

    def stated_geometry(self) -> Optional[dict]:
        """The six geometry fields when stated, else None."""
        values = {name: getattr(self, name) for name in GEOMETRY_FIELDS}
        return values if all(v is not None for v in values.values()) else None


@dataclass(frozen=True)
class TrainConfig(Section):
    """Optimisation of a model on ground truth (and, later, on a teacher)."""

    SECTION = "training"
    num_epochs: int = spec(20, "maximum number of epochs (0: evaluate the initialised model, no training)",
                           low=0)
    batch_size: int = spec(32, "columns per step", low=1)
    learning_rate: float = spec(3e-3, "AdamW learning rate of non-SSM parameters", low=0.0,
                                low_open=True)
    ssm_learning_rate: float = spec(1e-3, "learning rate of S4D A and dt (no weight decay)",
                                    low=0.0, low_open=True)
    weight_decay: float = spec(0.01, "AdamW weight decay of non-SSM parameters", low=0.0)
    warmup_fraction: float = spec(0.05, "share of all steps spent in linear warm-up", low=0.0,
                                  high=0.9)
    loss: str = spec("nmse", "ground-truth loss: complex MSE, or it divided by the batch's power",
                     choices=("nmse", "mse"))
    valid_weight: float = spec(1.0, "weight of an extra NMSE term over each column's valid region "
                               "(samples whose whole aperture is inside the column)", low=0.0)
    grad_clip: float = spec(1.0, "gradient norm clip (0 disables)", low=0.0)
    early_stopping_patience: int = spec(10, "epochs without val improvement before stopping", low=1)
    select_on: str = spec("objective", "validation figure that picks the kept checkpoint and stops early: "
                          "objective (nmse + valid_weight x valid nmse, as the loss weighs them), nmse, "
                          "nmse_valid or accuracy", choices=("objective", "nmse", "nmse_valid", "accuracy"))
    max_minutes: float = spec(0.0, "wall-clock training budget in minutes (0: none); the learning-rate "
                              "schedule then spans the epochs that fit, planned from the first epoch's time",
                              low=0.0)
    seed: int = spec(0, "seed of initialisation and shuffling", low=0)
    accelerator: str = spec("auto", "cpu, gpu or auto", choices=("auto", "cpu", "gpu", "cuda"))
    precision: str = spec("32-true", "Lightning precision (FFTs always run in fp32)",
                          choices=("32-true", "bf16-mixed", "16-mixed"))
    num_threads: int = spec(0, "torch CPU threads (0: torch's default)", low=0)


@dataclass(frozen=True)
class DistillConfig(Section):
    """Distillation loss weights and schedules, as named by the seed pipeline."""

    SECTION = "distillation"
    temperature: float = spec(2.5, "T: outputs divided by T, loss multiplied by T^2", low=0.0,
                              low_open=True)
    alpha: float = spec(0.8, "weight of the ground-truth loss", low=0.0)
    beta: float = spec(0.15, "weight of the distillation loss", low=0.0)
    gamma: float = spec(0.05, "weight of the feature loss", low=0.0)
    curriculum_epochs: int = spec(15, "student-only epochs, then a ramp of the same length", low=0)
    progressive_coupling: bool = spec(False, "couple layers in stages that advance every stage_epochs")
    stage_epochs: int = spec(20, "epochs per progressive coupling stage", low=1)
    teacher_layers: list[int] = spec([], "teacher layers to couple (empty: 25/50/75 % depths)",
                                     low=0)
    student_layers: list[int] = spec([], "student layers to couple (empty: 25/50/75 % depths)",
                                     low=0)
    enhanced_projections: bool = spec(False, "learnable complex projections between feature widths")
    projection_type: str = spec("pca_init", "projection kind",
                                choices=("linear", "pca_init", "attention"))
    preserve_distribution: bool = spec(True, "add variance, moment and confidence terms")
    variance_weight: float = spec(0.1, "weight of variance matching", low=0.0)
    moment_weight: float = spec(0.05, "weight of magnitude moment matching", low=0.0)
    confidence_weight: float = spec(0.02, "weight of the confidence term", low=0.0)
    dynamic_temperature: bool = spec(False, "anneal the temperature over training")


# Searchable fields and the section each belongs to (names are unique across sections).
SPACE_PARAMS = {"model_dim": "model", "state_dim": "model", "num_layers": "model", "bidirectional": "model",
                "gate_width": "model", "gate_hidden": "model", "gate_layers": "model",
                "temperature": "distillation", "alpha": "distillation", "beta": "distillation",
                "gamma": "distillation", "curriculum_epochs": "distillation", "stage_epochs": "distillation",
                "learning_rate": "training"}

DEFAULT_SPACE = {
    "model_dim": {"choices": [4, 8, 16, 32]},
    "state_dim": {"choices": [16, 32, 64, 128]},
    "num_layers": {"low": 1, "high": 4},
    "temperature": {"low": 1.0, "high": 6.0},
    "beta": {"low": 0.0, "high": 0.5},
    "learning_rate": {"low": 1e-3, "high": 1e-2, "log": True},
}


@dataclass(frozen=True)
class SearchConfig(Section):
    """The student search: which students, how many, how they are judged and stopped."""

    SECTION = "search"
    num_samples: int = spec(8, "students (trials) to train", low=1)
    sampler: str = spec("nsga2", "Optuna sampler: nsga2, tpe (multi-objective TPE) or random",
                        choices=("nsga2", "tpe", "random"))
    accuracy_objective: str = spec("accuracy", "quality objective on the validation split: accuracy (max) "
                                   "or nmse_valid_db (min)", choices=("accuracy", "nmse_valid_db"))
    latency_objective: bool = spec(False, "add latency (ms per column, batch 32, CPU) as a third objective")
    workers_per_trial: int = spec(1, "Ray Train workers per student (data-parallel)", low=1)
    trial_runner: str = spec("auto", "how a trial trains: auto (a single-worker trial runs Lightning inside its "
                             "Tune trial, a multi-worker one a Ray Train run) or ray_train (always Ray Train)",
                             choices=("auto", "ray_train"))
    max_concurrent_trials: int = spec(0, "students trained at once; 0: as many as the cluster holds", low=0)
    early_stopping: str = spec("pareto_halving", "pareto_halving: stop students that are dominated at a rung "
                               "(multi-objective successive halving); none", choices=("pareto_halving", "none"))
    grace_epochs: int = spec(2, "first rung: epochs every student gets before it can be stopped", low=1)
    reduction_factor: int = spec(2, "keep the best 1/reduction_factor at each rung", low=2)
    share_teacher: bool = spec(True, "teacher outputs and features computed once per sweep and shared "
                               "(false: each trial runs the teacher itself; for benchmarks)")
    search_seed: int = spec(0, "seed of the sampler")
    space: dict = spec(DEFAULT_SPACE, "searched fields: {field: {choices: [...]} or {low, high[, log]}}")

    def check(self) -> None:
        if not self.space:
            raise ConfigError("search.space: empty; name at least one of " + ", ".join(SPACE_PARAMS))
        for name, rule in self.space.items():
            check_space_rule(name, rule)


def check_space_rule(name: str, rule: Any) -> None:
    """One search-space entry: a known field, and choices or a non-empty range the field accepts."""
    key = f"search.space.{name}"
    if name not in SPACE_PARAMS:
        raise ConfigError(f"{key}: unknown parameter (searchable: {', '.join(SPACE_PARAMS)})")
    cls = SECTIONS[SPACE_PARAMS[name]]
    target = {f.name: f for f in fields(cls)}[name]
    tp = typing.get_type_hints(cls)[name]
    if not isinstance(rule, dict):
        raise ConfigError(f"{key}: expected {{choices: [...]}} or {{low: ..., high: ...}}, got {rule!r}")
    unknown = set(rule) - {"choices", "low", "high", "log"}
    if unknown:
        raise ConfigError(f"{key}.{sorted(unknown)[0]}: unknown key (known: choices, high, log, low)")
    if "choices" in rule:
        if set(rule) != {"choices"}:
            raise ConfigError(f"{key}: give either choices or low/high, not both")
        if not isinstance(rule["choices"], list) or not rule["choices"]:
            raise ConfigError(f"{key}.choices: expected a non-empty list")
        for value in rule["choices"]:
            _check_bounds(key, target.metadata, _coerce_scalar(key, tp, value))
        return
    if tp is bool:
        raise ConfigError(f"{key}: a true/false field takes choices, e.g. {{choices: [true, false]}}")
    if "low" not in rule or "high" not in rule:
        raise ConfigError(f"{key}: a range needs both low and high")
    low, high = (_coerce_scalar(key, tp, rule[k]) for k in ("low", "high"))
    if low >= high:
        raise ConfigError(f"{key}: empty or inverted range (low {low!r} >= high {high!r})")
    for value in (low, high):
        _check_bounds(key, target.metadata, value)
    if not isinstance(rule.get("log", False), bool):
        raise ConfigError(f"{key}.log: expected true or false, got {rule['log']!r}")
    if rule.get("log") and low <= 0:
        raise ConfigError(f"{key}: a log range needs low > 0, got {low!r}")


@dataclass(frozen=True)
class TrackingConfig(Section):
    """Where MLflow records the sweep, and what goes into the Model Registry."""

    SECTION = "tracking"
    tracking_uri: str = spec("", "MLflow tracking URI (http://host:port for a server); "
                             "empty: sqlite:///<save_dir>/mlflow.db")
    experiment: str = spec("", "MLflow experiment name; empty: kdssm-<save_dir folder name>")
    register_front: bool = spec(True, "register every Pareto-front student in the Model Registry")
    registered_model: str = spec("", "Model Registry name; empty: <experiment>-students")

    def check(self) -> None:
        from urllib.parse import urlparse
        if urlparse(self.tracking_uri).password is not None or "@" in urlparse(self.tracking_uri).netloc:
            raise ConfigError("tracking.tracking_uri: holds credentials; set MLFLOW_TRACKING_USERNAME and "
                              "MLFLOW_TRACKING_PASSWORD instead (the URI is written into configs and MLflow)")


SECTIONS: dict[str, type[Section]] = {
    "model": ModelConfig,
    "data": DataConfig,
    "training": TrainConfig,
    "distillation": DistillConfig,
    "search": SearchConfig,
    "tracking": TrackingConfig,
}


@dataclass(frozen=True)
class RunConfig:
    """A whole run: one instance of each section."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    training: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    distillation: DistillConfig = dataclasses.field(default_factory=DistillConfig)
    search: SearchConfig = dataclasses.field(default_factory=SearchConfig)
    tracking: TrackingConfig = dataclasses.field(default_factory=TrackingConfig)

    @classmethod
    def from_dict(cls, data: Optional[dict]) -> "RunConfig":
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ConfigError(f"config: expected a mapping of sections, got {type(data).__name__}")
        for key in data:
            if key not in SECTIONS:
                raise ConfigError(f"{key}: unknown section (known: {', '.join(SECTIONS)})")
        return cls(**{name: sec.from_dict(data.get(name)) for name, sec in SECTIONS.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(load_yaml(path))

    def to_dict(self) -> dict:
        return {name: getattr(self, name).to_dict() for name in SECTIONS}

    def with_overrides(self, overrides: dict[str, dict]) -> "RunConfig":
        """`overrides` maps section -> {field: value}; the result is validated again."""
        merged = self.to_dict()
        for section, values in overrides.items():
            merged[section].update(values)
        return RunConfig.from_dict(merged)

    def dump(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: malformed YAML{where}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file") from None


def field_index() -> dict[str, tuple[str, dataclasses.Field]]:
    """Flag name -> (section, field) for every field; names are unique across sections."""
    index: dict[str, tuple[str, dataclasses.Field]] = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            assert f.name not in index, f"config field name {f.name} is not unique"
            index[f.name] = (section, f)
    return index
