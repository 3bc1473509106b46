"""Config section of the vehicle's speed (docs/alerts.md, "Speed"): where it comes from, and when it counts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge.config._base import Baud, Seconds, _Section, bounded


class SpeedConfig(_Section):
    # "none": no speed, the vehicle counts as moving (every alert as without gating); "mqtt": a topic on the [mqtt]
    # broker (docs/mqtt.md, "Vehicle speed"); "gpsd": a gpsd daemon's fixes; "obd": an ELM327 OBD-II adapter.
    source: Literal["none", "mqtt", "gpsd", "obd"] = "none"
    # A reading older than this is stale: speed unknown, so the vehicle counts as moving. One rule for alert gating
    # and the state (edge/monitor/motion.py). GNSS and OBD give 1-10 readings a second; 2 s is several missed ones.
    max_age_s: Seconds = 2.0
    # At or below this the vehicle stands still: distraction alerts are silenced (docs/alerts.md). Not 0: GNSS
    # speed jitters by ~1 km/h at rest, and a wheel-speed PID reads 0-2 km/h while creeping.
    standing_kmh: float = bounded(3.0, ge=0.0, le=30.0, why="km/h; faster is driving, not standing still")
    # mqtt: the topic, relative to dms/<device_id>/ unless it starts with "/" (then absolute, without the "/").
    mqtt_topic: str = Field("vehicle/speed", min_length=1)
    # gpsd: its JSON socket (gpsd's default port is 2947).
    gpsd_host: str = Field("127.0.0.1", min_length=1)
    gpsd_port: int = bounded(2947, ge=1, le=65535, why="the largest TCP port")
    # obd: the ELM327's serial port (None with source "obd" is an error), its baudrate (None: python-OBD probes the
    # usual ones), the OBD protocol ("1"-"9", "A"; None: the adapter searches, ~2 s slower) and the query rate.
    obd_port: str | None = None
    obd_baudrate: Baud | None = None
    obd_protocol: str | None = Field(None, pattern=r"^[1-9A]$")
    obd_poll_hz: float = bounded(  # an ELM327 on CAN answers a PID in ~50 ms
        5.0, gt=0.0, le=50.0, why="an ELM327 answers a PID in 20-50 ms at best")
    # A source that delivers no reading for this long is reported silent (MQTT, OBD) or reconnected (gpsd).
    silent_after_s: Seconds = 5.0
    reopen_initial_s: Seconds = 0.5  # the source failed: reopen after this, doubling up to reopen_max_s
    reopen_max_s: Seconds = 10.0

    @model_validator(mode="after")
    def _consistent(self) -> SpeedConfig:
        if self.source == "obd" and not self.obd_port:
            raise ValueError('source "obd" needs obd_port (e.g. "/dev/ttyUSB0" or "/dev/rfcomm0")')
        if self.reopen_max_s < self.reopen_initial_s:
            raise ValueError("reopen_max_s must be >= reopen_initial_s")
        return self
