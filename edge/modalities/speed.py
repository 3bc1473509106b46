"""The vehicle's speed: not a sign of the driver's state and not a fusion vote, but the context the alerts are
gated by (docs/alerts.md): DDAW and ADDW below their speeds, distraction silenced while the vehicle stands still.

Live, the [speed] source (MQTT, gpsd or an OBD-II adapter, edge/sources/speed_*.py) keeps its latest reading,
which the stage takes at every step; in replay, a drive's speed.csv (or --speed-csv CSV) is handed over in step
with the video. The stage makes an estimate at every step (its age grows between readings); the session passes
the freshest reading and its time to the monitor. A stale or missing speed is unknown, which counts as moving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.config import Config, SpeedConfig
from edge.modalities.base import HaSensor, InputError, Modality, ModalityKind, ReplayFeed, ha_number
from edge.monitor.motion import Motion, fresh_speed, motion
from edge.rounding import rounded
from edge.sources.speed import SpeedReading, SpeedSource
from edge.stats import StageTimer

VEHICLE_EXTRA = "pip install 'edge-dms[vehicle]'"


@dataclass(frozen=True, slots=True)
class SpeedEstimate:
    t: float  # the step it describes
    speed_kmh: float | None  # the latest reading, fresh or not; None before the first
    speed_t: float | None  # when that reading was measured (pipeline clock)
    source: str | None  # "mqtt", "gpsd", "obd", "recording"; None without a source
    motion: Motion  # from a fresh reading; "unknown" (counted as moving) when stale or missing
    reason: str | None  # None: fresh; "off": no source; "no_speed": none yet; "stale": older than max_age_s

    @staticmethod
    def unknown(t: float, reason: str) -> SpeedEstimate:
        return SpeedEstimate(t, None, None, None, "unknown", reason)


class SpeedStage:
    """The latest reading → an estimate at every step, judged by [speed] max_age_s and standing_kmh."""

    def __init__(self, cfg: SpeedConfig, source: str):
        self.cfg = cfg
        self.source = source
        self.latest: SpeedReading | None = None

    def take(self, reading: SpeedReading | None) -> None:
        if reading is not None and (self.latest is None or reading.t >= self.latest.t):
            self.latest = reading

    def feed(self, readings: Sequence[SpeedReading]) -> None:
        for reading in readings:
            self.take(reading)

    def poll(self, t: float) -> SpeedEstimate:
        r = self.latest
        if r is None:
            return SpeedEstimate(t, None, None, self.source, "unknown", "no_speed")
        speed = fresh_speed(t, r.speed_kmh, r.t, self.cfg.max_age_s)
        return SpeedEstimate(t, r.speed_kmh, r.t, self.source, motion(speed, self.cfg.standing_kmh),
                             None if speed is not None else "stale")


def section(e: SpeedEstimate) -> dict[str, Any]:
    return {
        "speed_kmh": rounded(e.speed_kmh, 1),
        "t": rounded(e.speed_t, 3),
        "age_s": None if e.speed_t is None else round(max(0.0, e.t - e.speed_t), 3),
        "source": e.source,
        "motion": e.motion,
        "reason": e.reason,
    }


def console(speed: dict[str, Any] | None) -> str:
    if speed is None or speed["reason"] == "off":
        return ""
    if speed["speed_kmh"] is None or speed["reason"] == "stale":
        return f"  speed: {speed['reason'].replace('_', ' ')}"
    return f"  speed: {speed['speed_kmh']:.0f} km/h {speed['motion']}"


def open_source(cfg: Config) -> SpeedSource:
    """The configured source (not started). Raises ImportError when its library (the `vehicle` extra) is missing."""
    from edge.sources.speed import NoSpeedSource

    if cfg.speed.source == "mqtt":
        from edge.sources.speed_mqtt import MqttSpeedSource

        return MqttSpeedSource(cfg.speed, cfg.mqtt, cfg.device_id)
    if cfg.speed.source == "gpsd":
        import gpsdclient  # noqa: F401 - fail here, where the modality can say so, not in the thread

        from edge.sources.speed_gpsd import GpsdSpeedSource

        return GpsdSpeedSource(cfg.speed)
    if cfg.speed.source == "obd":
        import obd  # noqa: F401

        from edge.sources.speed_obd import ObdSpeedSource

        return ObdSpeedSource(cfg.speed)
    return NoSpeedSource(cfg.speed, "no speed source")


def live(cfg: Config, timer: StageTimer) -> Modality[SpeedEstimate]:
    try:
        source = open_source(cfg)
    except ImportError as err:
        return Modality(SPEED, problem=f"speed source {cfg.speed.source!r} needs {err.name}: {VEHICLE_EXTRA}")
    if not source.enabled:
        return Modality(SPEED, source=source)
    stage = SpeedStage(cfg.speed, cfg.speed.source)
    return Modality(SPEED, stage, feed=lambda _t: stage.take(source.latest()), source=source)


def replay(cfg: Config, path: Path, timer: StageTimer, strict: bool = False) -> Modality[SpeedEstimate]:
    from edge.sources.recording import RecordingError
    from edge.sources.speed_replay import read_speed_csv

    try:
        readings, skipped = read_speed_csv(path, strict)
    except RecordingError as err:
        raise InputError(str(err)) from None
    stage = SpeedStage(cfg.speed, "recording")
    return Modality(SPEED, stage, feed=ReplayFeed(readings, lambda r: r.t, stage.feed), skipped=[skipped])


SPEED: ModalityKind[SpeedEstimate] = ModalityKind(
    name="speed",
    source="speed",
    stream="speed",
    stream_help="vehicle speed for alert gating: t_s,speed_kmh on the video's clock (docs/recording.md; default: "
    "the drive's speed.csv, if any)",
    sections=("speed",),
    # The MQTT source subscribes on [mqtt]'s broker, under the device id.
    also_built_from=lambda cfg: ("mqtt", "device_id") if cfg.speed.source == "mqtt" else (),
    learned="nothing",
    unknown=SpeedEstimate.unknown,
    waiting="no_speed",
    section=section,
    live=live,
    replay=replay,
    console=console,
    homeassistant=(
        HaSensor("vehicle_speed", "Vehicle speed",
                 ha_number("value_json.speed.speed_kmh", known="value_json.speed.reason is none"),
                 {"unit_of_measurement": "km/h", "device_class": "speed", "state_class": "measurement"}),
    ),
    vehicle_speed=lambda e: (e.speed_kmh, e.speed_t) if e.speed_kmh is not None and e.speed_t is not None else None,
    degrades_monitoring=False,
    flag="speed-csv",
)
