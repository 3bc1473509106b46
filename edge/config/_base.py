"""What every config section shares: strict validation and the common value types."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(gt=0.0, le=3600.0)]


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
