"""The TOML configuration: strict pydantic models (unknown keys are errors), loading and error reporting.

Every threshold lives in a section class (one module per area) with its unit; `config/dms.toml` documents each key
and where its default comes from.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from edge.config._base import DEFAULT_MODELS_DIR, PROJECT_ROOT, Fraction, Seconds, _Section, bounded, number_fields, why
from edge.config.outputs import MqttConfig, RecordingConfig, StateConfig
from edge.config.policy import AlertLevels, AlertsConfig, DistractionConfig, DrowsinessConfig, FusionConfig
from edge.config.sensors import AudioConfig, PhysioConfig, SerialConfig
from edge.config.vehicle import SpeedConfig
from edge.config.vision import CameraConfig, EyesConfig, RuntimeConfig, VisionConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "DEFAULT_MODELS_DIR", "PROJECT_ROOT", "Fraction", "Seconds", "AlertLevels", "AlertsConfig", "AudioConfig",
    "CameraConfig", "Config", "ConfigError", "DistractionConfig", "DrowsinessConfig", "EyesConfig", "FusionConfig",
    "MqttConfig", "PhysioConfig", "RecordingConfig", "RuntimeConfig", "SerialConfig", "SpeedConfig", "StateConfig",
    "VisionConfig",
    "bounded", "config_from_dict", "load_config", "tomllib", "with_overrides",
]


class Config(_Section):
    device_id: str = Field("dms", pattern=r"^[A-Za-z0-9_-]{1,64}$")  # becomes the MQTT topic prefix dms/<id>/
    camera: CameraConfig = CameraConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    vision: VisionConfig = VisionConfig()
    eyes: EyesConfig = EyesConfig()
    drowsiness: DrowsinessConfig = DrowsinessConfig()
    distraction: DistractionConfig = DistractionConfig()
    fusion: FusionConfig = FusionConfig()
    alerts: AlertsConfig = AlertsConfig()
    mqtt: MqttConfig = MqttConfig()
    serial: SerialConfig = SerialConfig()
    physio: PhysioConfig = PhysioConfig()
    audio: AudioConfig = AudioConfig()
    speed: SpeedConfig = SpeedConfig()
    recording: RecordingConfig = RecordingConfig()
    state: StateConfig = StateConfig()

    @model_validator(mode="after")
    def _estimates_arrive_before_they_go_stale(self) -> Config:
        if self.physio.hop_s >= self.fusion.physio_max_age_s:
            raise ValueError(f"physio.hop_s ({self.physio.hop_s}) must be < fusion.physio_max_age_s "
                             f"({self.fusion.physio_max_age_s}), or every physiology estimate goes stale before "
                             "the next one")
        return self


# Each number's reason for its upper limit, by key path (edge/config/_base.py, `bounded`).
_REASONS = {path: reason for path, (_, info) in number_fields(Config).items() if (reason := why(info)) is not None}


class ConfigError(Exception):
    """A config that cannot be used. `problems` holds one line per error, each naming its key path."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def report(self) -> str:
        return f"invalid config {self.source}:\n" + "\n".join(f"  {p}" for p in self.problems)


def _format_validation_error(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        given = e.get("input")
        if e["type"] == "extra_forbidden":
            problems.append(f"{path}: unknown key")
        elif (upper := _upper_limit(e)) is not None:
            problems.append(f"{path}: {_shown(given)} is {upper}")
        else:
            shown = "" if isinstance(given, dict) else f" (got {_shown(given)})"
            problems.append(f"{path}: {e['msg']}{shown}")
    return problems


def _shown(value: object) -> str:
    """The value as written, cut short: a 4000-digit number or a megabyte string is not echoed into logs and MQTT."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


def _upper_limit(e: ErrorDetails) -> str | None:
    """"above 7680 (8K UHD; ...)" for a number past its upper limit, with the reason `bounded()` gave for it."""
    inclusive = e["type"] == "less_than_equal"
    if not inclusive and e["type"] != "less_than":
        return None
    loc = [str(p) for p in e["loc"]]
    # A tuple's element (vision.driver_region.2) has its field's reason.
    reason = next((_REASONS[k] for k in (".".join(loc[:n]) for n in range(len(loc), 0, -1)) if k in _REASONS), None)
    if reason is None:
        return None
    limit = e["ctx"]["le" if inclusive else "lt"]
    limit = int(limit) if float(limit).is_integer() else limit
    return f"{'above' if inclusive else 'not below'} {limit} ({reason})"


def config_from_dict(data: dict[str, Any], source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate a parsed config. Relative model paths are resolved against `base_dir`."""
    try:
        # Through JSON so strict mode still takes TOML arrays for tuples and integers for floats.
        cfg = Config.model_validate_json(json.dumps(data, default=str))
    except ValidationError as err:
        raise ConfigError(source, _format_validation_error(err)) from None
    models_dir = cfg.runtime.models_dir
    if base_dir is not None and not models_dir.is_absolute():
        cfg = cfg.model_copy(
            update={"runtime": cfg.runtime.model_copy(update={"models_dir": (base_dir / models_dir).resolve()})}
        )
    return cfg


def with_overrides(cfg: Config, source: str, overrides: dict[str, Any]) -> Config:
    """`cfg` with `overrides` merged in (a dict per section), validated like a config file: a command-line option
    obeys the same limits, and its errors are named after `source` (the option)."""
    data = cfg.model_dump(mode="json")
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    return config_from_dict(data, source)


def load_config(path: str | Path | None) -> Config:
    """Load and validate a TOML file; None gives the defaults. Raises ConfigError naming each bad key."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(str(path), [f"cannot read: {err.strerror or err}"]) from None
    except UnicodeDecodeError as err:
        raise ConfigError(str(path), [f"not UTF-8 text (byte {err.start})"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), [f"TOML syntax: {err}"]) from None
    except ValueError as err:  # Python reads no integer of over 4300 digits; tomllib then names no line
        raise ConfigError(str(path), [_unreadable_integer(text, err)]) from None
    except RecursionError:
        raise ConfigError(str(path), ["arrays or tables nested too deep to read"]) from None
    return config_from_dict(data, str(path), path.resolve().parent)


def _unreadable_integer(text: str, err: ValueError) -> str:
    found = re.search(r"[0-9][0-9_]{4300,}", text)
    if found is None:
        return f"TOML: {err}"
    line = text.count("\n", 0, found.start()) + 1
    return f"line {line}: an integer of {len(found.group())} digits is too long to read (no key takes one)"
