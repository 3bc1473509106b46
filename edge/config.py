"""The TOML configuration: strict pydantic models (unknown keys are errors), loading and error reporting.

Every threshold lives here with its unit; `config/dms.toml` documents each key and where its default comes from.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(gt=0.0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraConfig(_Section):
    # A video file path, a V4L2 device ("/dev/video0" or an index such as "0"), or "gst:" + a GStreamer pipeline
    # ending in appsink.
    source: str = "0"
    width: int | None = Field(640, gt=0)  # px, requested from V4L2 devices; None keeps the driver's default
    height: int | None = Field(480, gt=0)
    fps: float = Field(30.0, gt=0.0, le=240.0)  # requested from V4L2; used as the nominal rate of files without one
    fourcc: str | None = Field(None, min_length=4, max_length=4)  # e.g. "MJPG", "GREY", "YUYV"
    reopen_initial_s: Seconds = 0.5  # first wait before reopening a failed device; doubles up to reopen_max_s
    reopen_max_s: Seconds = 10.0
    frame_timeout_s: Seconds = 2.0  # no frame for this long: the camera is reported unavailable and reopened

    @model_validator(mode="after")
    def _backoff_order(self) -> CameraConfig:
        if self.reopen_max_s < self.reopen_initial_s:
            raise ValueError("reopen_max_s must be >= reopen_initial_s")
        return self


class RuntimeConfig(_Section):
    backend: Literal["auto", "litert", "tflite-runtime"] = "auto"  # auto: ai-edge-litert, else tflite-runtime
    num_threads: int = Field(1, ge=1, le=16)  # per interpreter; 1 gives the least CPU time per frame
    # OpenCV's own thread pool; 1 keeps small crops on the worker's thread (its pool added CPU time per frame
    # for no speed-up at 640x360). 0 lets OpenCV choose.
    opencv_threads: int = Field(1, ge=0, le=64)
    models_dir: Path = DEFAULT_MODELS_DIR  # relative paths are taken from the config file's folder


class VisionConfig(_Section):
    # Contrast normalisation of each gray model input: "clahe" (local; steadiest EAR under gamma 0.4-2.5 and
    # noise), "equalize" (global histogram, 0.3 ms cheaper per frame), or "none".
    normalise: Literal["clahe", "equalize", "none"] = "clahe"
    clahe_clip_limit: float = Field(2.0, gt=0.0)
    clahe_tile_grid: int = Field(4, ge=1, le=32)  # tiles per side of the 192 px landmark crop
    detector_score_threshold: Fraction = 0.5  # MediaPipe's default for BlazeFace short range
    detector_nms_iou: Fraction = 0.3  # MediaPipe's weighted-NMS overlap
    redetect_every_n_frames: int = Field(0, ge=0)  # also run the detector every N tracked frames; 0: only when lost
    landmark_presence_threshold: Fraction = 0.5  # FaceMesh face-presence probability that keeps a track alive
    # The driver's seat in normalised frame coordinates (x0, y0, x1, y1): the largest face whose centre lies inside
    # is the driver; passengers elsewhere are ignored.
    driver_region: tuple[Fraction, Fraction, Fraction, Fraction] = (0.0, 0.0, 1.0, 1.0)
    min_face_size_px: float = Field(40.0, ge=0.0)  # smaller faces are too far or too small to judge eyes
    max_pose_deg: float = Field(45.0, gt=0.0, le=90.0)  # |yaw| or |pitch| beyond this: quality drops to 0
    focal_length_px: float | None = Field(None, gt=0.0)  # camera focal length; None approximates it by frame width
    emotion_hz: float = Field(5.0, ge=0.0, le=60.0)  # emotion model rate; 0 turns it off
    emotion_model: Literal["fer"] = "fer"  # the fer package's int8 model until the project's own lands

    @field_validator("driver_region")
    @classmethod
    def _region_ordered(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if not (v[0] < v[2] and v[1] < v[3]):
            raise ValueError("driver_region must be (x0, y0, x1, y1) with x0 < x1 and y0 < y1")
        return v


class StateConfig(_Section):
    state_hz: float = Field(2.0, gt=0.0, le=60.0)  # rate of the retained `state` message


class Config(_Section):
    device_id: str = Field("dms", pattern=r"^[A-Za-z0-9_-]{1,64}$")  # becomes the MQTT topic prefix dms/<id>/
    camera: CameraConfig = CameraConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    vision: VisionConfig = VisionConfig()
    state: StateConfig = StateConfig()


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
        if e["type"] == "extra_forbidden":
            problems.append(f"{path}: unknown key")
            continue
        given = e.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        problems.append(f"{path}: {e['msg']}{shown}")
    return problems


def config_from_dict(data: dict[str, Any], source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate a parsed config. Relative model paths are resolved against `base_dir`."""
    try:
        cfg = Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, _format_validation_error(err)) from None
    models_dir = cfg.runtime.models_dir
    if base_dir is not None and not models_dir.is_absolute():
        cfg = cfg.model_copy(
            update={"runtime": cfg.runtime.model_copy(update={"models_dir": (base_dir / models_dir).resolve()})}
        )
    return cfg


def load_config(path: str | Path | None) -> Config:
    """Load and validate a TOML file; None gives the defaults. Raises ConfigError naming each bad key."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(str(path), [f"cannot read: {err.strerror or err}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), [f"TOML syntax: {err}"]) from None
    return config_from_dict(data, str(path), path.resolve().parent)
