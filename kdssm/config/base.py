"""The config machinery: a strict pydantic section with one-line errors, and YAML in and out.

Each section is a frozen pydantic v2 model (`strict`, `extra="forbid"`, no NaN/Inf); every field carries
its meaning (`description`) and its bounds (`ge`/`gt`/`le`, `Literal` choices, `Even`), so validation,
CLI flags, the JSON Schema (`kdssm schema`) and error messages all come from one place. pydantic's
errors are translated into the house's one-line form, `section.field: what is wrong, got value`.
"""

from __future__ import annotations

import itertools
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator


class ConfigError(ValueError):
    """A user mistake in a configuration; its message is one line naming the key or file."""


def _must_be_even(value: int) -> int:
    if value % 2:
        raise ValueError(f"must be even, got {value!r}")
    return value


EVEN = AfterValidator(_must_be_even)
Even = Annotated[int, EVEN]  # an int that must be even (S4D state sizes: N/2 complex modes)

STRICT = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

_TYPE_ERRORS = {
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "finite_number": "expected a finite number",
    "dict_type": "expected a mapping",
    "list_type": "expected a list of int",
}
_BOUNDS = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"), "less_than_equal": ("<=", "le")}


def without_none(annotation):
    """X of an optional field (`X | None`, `Optional[X]`, `Annotated[X, ...] | None`), else the annotation itself."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        if typing.get_origin(annotation) is typing.Annotated:
            return typing.get_args(annotation)[0]
    return annotation


def choices_of(annotation) -> tuple:
    """The allowed values of a Literal field (Optional[Literal] too), else ()."""
    annotation = without_none(annotation)
    return typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()


def explain(key: str, error: dict, annotation=None, known: tuple[str, ...] = ()) -> str:
    """One pydantic error as `key: what is wrong, got value` (key names the section and field)."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        cause = ctx.get("error")
        return str(cause) if isinstance(cause, ConfigError) else f"{key}: {cause}"
    if kind == "extra_forbidden":
        return f"{key}: unknown key (known: {', '.join(sorted(known))})"
    if kind in _TYPE_ERRORS:
        return f"{key}: {_TYPE_ERRORS[kind]}, got {value!r}"
    if kind == "literal_error":
        choices = ", ".join(map(str, choices_of(annotation))) or ctx.get("expected", "")  # a mapping's keys: pydantic's
        return f"{key}: {value!r} is not one of {choices}"
    if kind in _BOUNDS:
        rel, name = _BOUNDS[kind]
        return f"{key}: must be {rel} {ctx[name]}, got {value!r}"
    return f"{key}: {error['msg']}"


class Section(BaseModel):
    """A config section: strict pydantic fields, construction from a dict, one-line ConfigErrors."""

    model_config = STRICT
    SECTION: ClassVar[str] = ""

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise ConfigError(self._explain(err.errors()[0])) from None

    @classmethod
    def _explain(cls, error: dict) -> str:
        loc = error["loc"]
        field = cls.model_fields.get(loc[0]) if loc else None
        key = f"{cls.SECTION}.{loc[0]}" if loc else cls.SECTION
        return explain(key, error, field.annotation if field else None, tuple(cls.model_fields))

    def check(self) -> None:
        """Cross-field checks (raise ConfigError with the whole message); sections override."""

    @model_validator(mode="after")
    def _checked(self):
        self.check()
        return self

    @classmethod
    def from_dict(cls, data: dict | None):
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.SECTION}: expected a mapping of keys, got {type(data).__name__}")
        for key in data:
            if key not in cls.model_fields:
                raise ConfigError(f"{cls.SECTION}.{key}: unknown key (known: {', '.join(sorted(cls.model_fields))})")
        return cls(**data)

    def to_dict(self) -> dict:
        return self.model_dump()

    def replace(self, **changes):
        return self.from_dict({**self.to_dict(), **changes})


def is_even(section: type[Section], name: str) -> bool:
    """Whether a field only takes even integers (an optional one too: `Even | None`)."""
    field = section.model_fields[name]
    inner = [getattr(arg, "__metadata__", ()) for arg in typing.get_args(field.annotation)]
    return any(m is EVEN for m in [*field.metadata, *itertools.chain(*inner)])


def finite_positive(key: str, value: Any) -> float:
    """A positive finite number (ints accepted), else a ConfigError naming `key`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    if value <= 0:
        raise ConfigError(f"{key}: must be > 0, got {value!r}")
    return float(value)


class YamlLoader(yaml.SafeLoader):
    """yaml.SafeLoader reading numbers as YAML 1.2 does: `1e-4` is a float (YAML 1.1, PyYAML's default, asks
    for `1.0e-4` and reads `1e-4` as a string, which a strict number field then refuses)."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
        r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """YAML text -> its value (YamlLoader)."""
    return yaml.load(text, Loader=YamlLoader)


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        return parse_yaml(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: malformed YAML{where}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file") from None
