"""The TOML configuration: strict pydantic models (unknown keys are errors), loading and error reporting.

Every threshold lives here with its unit; `config/dms.toml` documents each key and where its default comes from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.names import AlertLevel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(gt=0.0, le=3600.0)]


class _Section(BaseModel):
    # Strict: `true` is not a number and "30" is not a float; infinities and NaN are refused everywhere.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


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

    @field_validator("source", mode="before")
    @classmethod
    def _index_as_text(cls, v: object) -> object:
        # `source = 0` is the natural TOML for the first V4L2 device.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _timing(self) -> CameraConfig:
        if self.reopen_max_s < self.reopen_initial_s:
            raise ValueError("reopen_max_s must be >= reopen_initial_s")
        if self.frame_timeout_s < 2.0 / self.fps:
            raise ValueError(f"frame_timeout_s must be at least two frame periods (>= {2.0 / self.fps:.3f} s)")
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
    # "own": the project's model (models/emotion.tflite, tools/train_emotion.py); "fer": the fer package's
    # (the baseline, 58 % on FER-2013's PublicTest against the project's 65.8 %).
    emotion_model: Literal["own", "fer"] = "own"
    emotion_min_quality: Fraction = 0.5  # face quality below this: the emotion is unknown, the model is not run
    emotion_window_s: float = Field(5.0, gt=0.0, le=600.0)  # window of the reported emotion mean and dominant class

    @field_validator("driver_region")
    @classmethod
    def _region_ordered(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if not (v[0] < v[2] and v[1] < v[3]):
            raise ValueError("driver_region must be (x0, y0, x1, y1) with x0 < x1 and y0 < y1")
        return v


class EyesConfig(_Section):
    # Eye openness = the eye-state model's P(closed) fused with the eye aspect ratio against the driver's own
    # open-eye EAR, learned online from confident open-eye frames (glasses and eye shape shift EAR per driver).
    model_weight: Fraction = 0.6  # weight of the CNN against the EAR cue (the CNN is better on unseen subjects)
    ear_closed_ratio: float = Field(0.55, gt=0.0, lt=1.0)  # EAR / baseline at which the EAR cue says 50 % closed
    ear_default_baseline: float = Field(0.28, gt=0.0, lt=1.0)  # open-eye EAR used until the driver's is learned
    baseline_samples: int = Field(90, ge=10)  # confident open-eye frames before the learned baseline is used
    closed_threshold: Fraction = 0.6  # closure starts at P(closed) >= this...
    open_threshold: Fraction = 0.4  # ...and ends at <= this (hysteresis against flicker)
    # Gray-level std of the eye (the crop's centre) below which it is hidden (dark glasses, a hand). On MRL's NIR
    # eyes 0.5 % of closed ones fall below 3.0 (16 % below 6): higher thresholds would hide real closures.
    min_crop_contrast: float = Field(3.0, ge=0.0)
    max_saturated_fraction: Fraction = 0.2  # share of saturated pixels in an eye crop; above: glare
    min_face_quality: Fraction = 0.3  # below: the eyes are not judged
    max_yaw_deg: float = Field(40.0, gt=0.0, le=90.0)  # beyond: the far eye is self-occluded

    @model_validator(mode="after")
    def _hysteresis(self) -> EyesConfig:
        if self.open_threshold >= self.closed_threshold:
            raise ValueError("open_threshold must be < closed_threshold")
        return self


class DrowsinessConfig(_Section):
    # Episode thresholds on continuous closure of both (visible) eyes. Blink durations: 100-400 ms alert
    # (Stern et al. 1994; Schleicher et al. 2008); >= 500 ms is a long blink, a drowsiness sign (Ingre et al. 2006).
    min_blink_s: float = Field(0.03, ge=0.0)  # shorter closures are landmark flicker
    long_blink_s: Seconds = 0.5
    microsleep_s: Seconds = 1.0  # Euro NCAP 2023 DSM: eyes closed >= 1 s
    sleep_s: Seconds = 3.0  # Euro NCAP 2023 DSM: >= 3 s
    window_s: Seconds = 60.0  # PERCLOS (P80) and blink-rate window (Wierwille et al. 1994; Dinges & Grace 1998)
    min_visible_s: Seconds = 30.0  # visible time in the window before PERCLOS and KSS are reported
    # Yawn: mouth aspect ratio at or above yawn_mar, held for yawn_min_s (speech opens the mouth for < 0.5 s at a
    # time, a yawn for 2-6 s), ending when it falls below yawn_end_mar.
    yawn_mar: float = Field(0.5, gt=0.0)
    yawn_end_mar: float = Field(0.35, gt=0.0)
    yawn_min_s: Seconds = 2.0
    # Nod: pitch falls nod_drop_deg below the driver's recent median pitch and returns within nod_max_s.
    nod_drop_deg: float = Field(12.0, gt=0.0)
    nod_max_s: Seconds = 2.0
    history_s: Seconds = 300.0  # window for long blinks, yawns, nods and microsleeps in the KSS rule
    # KSS rule (docs/drowsiness.md): KSS = 3 + perclos / perclos_kss7 * 4, plus one step each for a long-blink
    # rate >= long_blinks_per_min, >= yawns_for_step yawns and >= 1 nod in history_s; at least 8 after a
    # microsleep. PERCLOS 0.15 over a minute marks drowsiness in Dinges & Grace (1998) and Wierwille (1994).
    perclos_kss7: Fraction = 0.15
    long_blinks_per_min: float = Field(3.0, gt=0.0)
    yawns_for_step: int = Field(2, ge=1)
    kss_drowsy: float = Field(7.0, ge=1.0, le=9.0)  # KSS >= 7: drowsy (DDAW, EU 2021/1341, warns at KSS >= 8)
    kss_very_drowsy: float = Field(8.0, ge=1.0, le=9.0)

    @model_validator(mode="after")
    def _ordered(self) -> DrowsinessConfig:
        if not self.long_blink_s < self.microsleep_s < self.sleep_s:
            raise ValueError("need long_blink_s < microsleep_s < sleep_s")
        if self.yawn_end_mar > self.yawn_mar:
            raise ValueError("yawn_end_mar must be <= yawn_mar")
        if self.kss_very_drowsy < self.kss_drowsy:
            raise ValueError("kss_very_drowsy must be >= kss_drowsy")
        return self


class DistractionConfig(_Section):
    # Off road: the head turned from the driver's own neutral pose (learned online from confident frames, so a
    # camera mounted off-axis does not read as distraction) by more than these angles.
    yaw_off_road_deg: float = Field(25.0, gt=0.0, le=90.0)
    pitch_down_off_road_deg: float = Field(20.0, gt=0.0, le=90.0)  # looking down at a phone or the console
    pitch_up_off_road_deg: float = Field(20.0, gt=0.0, le=90.0)
    min_face_quality: Fraction = 0.3  # below: pose not judged (neither on nor off road)
    neutral_samples: int = Field(150, ge=10)  # confident frames (~5 s) before the learned neutral pose is used
    long_distraction_s: Seconds = 3.0  # Euro NCAP 2023 DSM: long distraction, off road >= 3 s
    vats_window_s: Seconds = 30.0  # Euro NCAP visual attention time sharing: >= 10 s off road within 30 s...
    vats_total_s: Seconds = 10.0
    vats_reset_on_road_s: Seconds = 2.0  # ...reset by >= 2 s continuously on road

    @model_validator(mode="after")
    def _vats(self) -> DistractionConfig:
        if self.vats_total_s > self.vats_window_s:
            raise ValueError("vats_total_s must be <= vats_window_s")
        return self


class AlertLevels(_Section):
    """The first level of each alert kind (docs/alerts.md, from Euro NCAP 2023/2026 DSM, DDAW and ADDW); one field
    per kind of edge.names.ALERT_KINDS, in that order."""

    microsleep: AlertLevel = "warning"
    sleep: AlertLevel = "critical"
    unresponsive: AlertLevel = "critical"
    drowsiness: AlertLevel = "advisory"  # escalates to warning at drowsiness.kss_very_drowsy
    long_distraction: AlertLevel = "warning"
    visual_time_sharing: AlertLevel = "warning"
    stress: AlertLevel = "advisory"
    driver_not_visible: AlertLevel = "warning"
    monitoring_degraded: AlertLevel = "advisory"


class AlertsConfig(_Section):
    levels: AlertLevels = AlertLevels()
    hold_s: Seconds = 1.0  # a condition must stay clear this long before its alert ends (no flapping)
    cooldown_s: float = Field(5.0, ge=0.0, le=3600.0)  # after an end, the same kind does not start again for this long
    update_interval_s: Seconds = 1.0  # `update` messages while an alert lasts
    escalate_after_s: Seconds = 5.0  # an unacknowledged alert goes up one level after this long (up to critical)
    unresponsive_s: Seconds = 6.0  # eyes closed or off road this long: unresponsive (Euro NCAP 2023)
    unresponsive_after_warning_s: Seconds = 3.0  # ...or no return to the road within this after a warning
    driver_not_visible_s: Seconds = 5.0  # no usable face this long
    monitoring_degraded_s: Seconds = 10.0  # eyes not visible (sunglasses, occlusion) this long
    stress_s: Seconds = 60.0  # fused stress high this long
    stress_threshold: Fraction = 0.7  # fused stress probability that counts as high
    # Speed gating, applied only when a speed source is configured (without one the vehicle counts as moving):
    ddaw_min_speed_kmh: float = Field(70.0, ge=0.0)  # drowsiness warning (EU 2021/1341 DDAW) above this
    addw_min_speed_kmh: float = Field(20.0, ge=0.0)  # distraction warning (EU 2023/2590 ADDW) above this
    speed_max_age_s: Seconds = 2.0  # an older speed reading is stale: treated as unknown (vehicle moving)


class FusionConfig(_Section):
    # Each modality's estimate is dropped when older than its max age (never imputed).
    face_max_age_s: Seconds = 1.0
    voice_max_age_s: Seconds = 10.0
    physio_max_age_s: Seconds = 10.0
    arousal_tau_s: Seconds = 3.0  # smoothing time constants: arousal changes in seconds...
    stress_tau_s: Seconds = 30.0  # ...stress over tens of seconds


class MqttConfig(_Section):
    enabled: bool = False  # `dms run` publishes when true; `dms replay --mqtt URL` enables it for one replay
    host: str = Field("localhost", min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    client_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")  # default: dms-<device_id>-<random>
    keepalive_s: int = Field(30, ge=5, le=3600)
    username: str | None = None
    # The password is never in this file: systemd's LoadCredential (file `password_credential` in
    # $CREDENTIALS_DIRECTORY), else the environment variable `password_env`.
    password_credential: str = "mqtt-password"
    password_env: str = "DMS_MQTT_PASSWORD"
    tls: bool = False
    ca_file: Path | None = None  # default: the system's trust store
    cert_file: Path | None = None  # client certificate for mutual TLS
    key_file: Path | None = None
    reconnect_min_s: Seconds = 1.0
    reconnect_max_s: Seconds = 60.0
    outbox_path: Path = Path("/var/lib/dms/outbox.sqlite")  # alerts wait here until the broker acknowledged them
    outbox_max_rows: int = Field(10_000, ge=100)  # beyond: the oldest telemetry goes first, alerts never before it
    stats_interval_s: Seconds = 30.0
    homeassistant: bool = True  # Home Assistant device discovery
    homeassistant_prefix: str = Field("homeassistant", min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class SerialConfig(_Section):
    # Physiology sensors (ECG, GSR) on a serial port; docs/sensors.md documents the line protocols.
    port: str | None = None  # e.g. "/dev/ttyUSB0" or "/dev/serial/by-id/..."; None: no sensor (health: disabled)
    baudrate: int = Field(115200, gt=0)
    # "csv": `seq,t_ms,ecg,gsr` with an optional `*XX` checksum; "ecg": one ECG value per line at ecg_rate_hz,
    # `!` when the leads are off.
    protocol: Literal["csv", "ecg"] = "csv"
    ecg_rate_hz: float = Field(250.0, gt=0.0, le=5000.0)  # the "ecg" protocol's lines carry no time
    read_timeout_s: Seconds = 1.0  # no byte for this long: the sensor is reported silent
    max_line_bytes: int = Field(256, ge=16, le=65536)  # longer lines are garbage: counted and skipped
    reopen_initial_s: Seconds = 0.2  # the port vanished (cable, USB reset): reopen after this, doubling...
    reopen_max_s: Seconds = 1.0  # ...up to this, so a re-created port is back within ~1-2 s

    @model_validator(mode="after")
    def _backoff(self) -> SerialConfig:
        if self.reopen_max_s < self.reopen_initial_s:
            raise ValueError("reopen_max_s must be >= reopen_initial_s")
        return self


class PhysioConfig(_Section):
    # The physiology stage (edge/physio/stage.py): heart rate, HRV and skin conductance over the last window_s of
    # the serial sensor (or a drive's physio.csv), and the stress model on them relative to the driver's baseline.
    window_s: float = Field(60.0, ge=20.0, le=300.0)  # HRV/EDA window; the stress model was trained on 60 s
    hop_s: float = Field(5.0, gt=0.0, le=60.0)  # an estimate every hop_s (keep it under fusion.physio_max_age_s)
    baseline_s: Seconds = 300.0  # the driver's resting values: windows within this of the first usable one
    # What the sensor's GSR numbers are: "grove" (Seeed Grove GSR ADC readings, converted to µS), "microsiemens",
    # or "raw" (any unit, used as it is: the model only sees ratios to the driver's own baseline).
    gsr_unit: Literal["grove", "microsiemens", "raw"] = "grove"
    grove_full_scale: int = Field(1024, ge=2, le=1 << 24)  # the ADC's range: 1024 for a 10-bit ADC
    grove_open_reading: float = Field(512.0, gt=0.0)  # the reading with no skin on the electrodes (Grove trimmer)
    min_ecg_quality: Fraction = 0.3  # ECG signal quality below this: heart rate and HRV are not reported or used
    stress_model: bool = True  # run models/stress.tflite when the manifest has it; without it stress is unknown

    @model_validator(mode="after")
    def _consistent(self) -> PhysioConfig:
        if self.hop_s > self.window_s:
            raise ValueError("hop_s must be <= window_s (no signal may go unanalysed)")
        if self.grove_open_reading >= self.grove_full_scale:
            raise ValueError("grove_open_reading must be < grove_full_scale")
        return self


class AudioConfig(_Section):
    # Cabin audio for the voice model (off by default). Audio lives only in an in-memory ring of ring_s seconds:
    # it is never written to disk, logged or published; only the derived estimate leaves the process.
    enabled: bool = False
    device: str | int | None = None  # input device: None the system default, a name substring, or an index
    ring_s: Seconds = 10.0  # the ring; must hold a segment and the slack of a slow worker
    chunk_ms: int = Field(20, ge=10, le=200)  # one capture buffer; a multiple of 10 ms lines up with VAD frames
    segment_s: float = Field(3.0, ge=1.0, le=10.0)  # the newest audio each voice estimate is made from
    hop_s: float = Field(1.0, gt=0.0, le=10.0)  # a voice estimate every hop_s (segments overlap when < segment_s)
    vad_aggressiveness: int = Field(2, ge=0, le=3)  # WebRTC VAD: 0 keeps the most audio as speech, 3 the least
    energy_gate_db: float = Field(6.0, ge=0.0, le=40.0)  # a speech frame is also this far above the noise floor
    min_speech_fraction: Fraction = 0.4  # a segment with less speech gives no estimate ("no_speech")
    min_snr_db: float = Field(10.0, ge=-30.0, le=60.0)  # a noisier segment gives no estimate ("noisy")
    speaker_min_s: Seconds = 3.0  # voiced audio before the driver's own statistics replace the population's
    reopen_initial_s: Seconds = 0.5  # the device failed: reopen after this, doubling up to reopen_max_s
    reopen_max_s: Seconds = 10.0
    stall_timeout_s: Seconds = 2.0  # no audio for this long: the device is reported unavailable and reopened

    @field_validator("device", mode="before")
    @classmethod
    def _no_bool(cls, v: object) -> object:
        if isinstance(v, bool):
            raise ValueError("expected a device name or index")
        return v

    @model_validator(mode="after")
    def _timing(self) -> AudioConfig:
        if self.hop_s > self.segment_s:
            raise ValueError("hop_s must be <= segment_s (no audio may go unanalysed)")
        if self.ring_s < self.segment_s + self.hop_s:
            raise ValueError("ring_s must be >= segment_s + hop_s")
        if self.reopen_max_s < self.reopen_initial_s:
            raise ValueError("reopen_max_s must be >= reopen_initial_s")
        return self


class RecordingConfig(_Section):
    # Privacy: `dms record` writes camera frames to disk; it refuses to run unless this is true.
    enabled: bool = False


class StateConfig(_Section):
    state_hz: float = Field(2.0, gt=0.0, le=60.0)  # rate of the retained `state` message


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
    recording: RecordingConfig = RecordingConfig()
    state: StateConfig = StateConfig()

    @model_validator(mode="after")
    def _estimates_arrive_before_they_go_stale(self) -> Config:
        if self.physio.hop_s >= self.fusion.physio_max_age_s:
            raise ValueError(f"physio.hop_s ({self.physio.hop_s}) must be < fusion.physio_max_age_s "
                             f"({self.fusion.physio_max_age_s}), or every physiology estimate goes stale before "
                             "the next one")
        return self


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
    return config_from_dict(data, str(path), path.resolve().parent)
