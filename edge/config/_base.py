"""What every config section shares: strict validation, the common value types, and limits that say why."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"


def bounded(default: Any = PydanticUndefined, *, why: str, **limits: float) -> Any:
    """A number's limits (ge/gt and le/lt, as pydantic's Field) with `why`, the reason for its upper one: a value
    past it is refused with the reason (edge/config/__init__.py), not only the number. Every number has one: a
    nonsense value (a 1e23 px frame, 2**63 samples) would overflow or exhaust memory far from the config file."""
    if "le" not in limits and "lt" not in limits:
        raise TypeError("bounded() needs an upper limit (le or lt)")
    return Field(default, json_schema_extra={"why": why}, **limits)


Fraction = Annotated[float, bounded(ge=0.0, le=1.0, why="a share or a probability")]
Seconds = Annotated[float, bounded(gt=0.0, le=3600.0, why="an hour: no wait, window or timeout here is longer")]
Degrees = Annotated[float, bounded(gt=0.0, le=90.0, why="a right angle: a head turned further shows no face")]
Kmh = Annotated[float, bounded(ge=0.0, le=300.0, why="km/h; no road vehicle drives faster")]
Baud = Annotated[int, bounded(gt=0, le=12_000_000, why="the fastest USB serial adapters (FTDI FT232H) reach 12 Mbaud")]


class _Section(BaseModel):
    # Strict: `true` is not a number and "30" is not a float; infinities and NaN are refused everywhere.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def refuse_moved_keys(data: object, moved: dict[str, str]) -> object:
    """For a `mode="before"` validator: a key that was renamed or moved is refused with where it went, a clearer
    word than "unknown key" for a file written before the change."""
    if isinstance(data, dict):
        for key, where in moved.items():
            if key in data:
                raise ValueError(f"{key} {where}")
    return data


def number_fields(model: type[BaseModel], prefix: str = "") -> dict[str, tuple[type, FieldInfo]]:
    """Every number of a section and its sub-sections by key path ("camera.width"): int or float, and the FieldInfo
    holding its limits (`metadata`) and their reason (`why`). A tuple of numbers counts by its elements' limits."""
    found: dict[str, tuple[type, FieldInfo]] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= number_fields(annotation, f"{prefix}{name}.")
        elif (number := _number(annotation, info)) is not None:
            found[prefix + name] = number
    return found


def _number(annotation: Any, info: FieldInfo) -> tuple[type, FieldInfo] | None:
    if annotation is int or annotation is float:  # not bool, though it is an int to Python
        return annotation, info
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        return _number(base, next((e for e in extras if isinstance(e, FieldInfo)), info))
    for arg in get_args(annotation):  # `int | None`, a tuple of numbers, `str | int`
        if (number := _number(arg, info)) is not None:
            return number
    return None


def why(info: FieldInfo) -> str | None:
    """The reason for a number's upper limit, given with `bounded()`."""
    extra = info.json_schema_extra
    return extra.get("why") if isinstance(extra, dict) else None  # type: ignore[return-value]
