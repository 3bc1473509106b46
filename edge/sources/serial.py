"""Physiology sensors (ECG, GSR) on a serial port: the supervised reader thread (the line protocol, pure, is in
serial_lines.py).

docs/sensors.md documents the two line protocols, the timing and the health states. The reader thread is a
SupervisedSource (supervised.py): on a device error it closes the port, reports "unavailable" with the reason, and
reopens with exponential backoff (reopen_initial_s doubling up to reopen_max_s). A port that is open but sends no
valid line for read_timeout_s is "silent".

Times: the parser gives each sample its time on the *sensor* clock. SerialSource maps it onto the *pipeline* clock
(see ClockMap) so `PhysioSample.t` of a drained sample is comparable with frame times, while the spacing of samples
stays the sensor's own (what heart-rate variability needs); `t_sensor` and `t_arrival` keep the raw sensor time and
the pipeline-clock time the bytes were read.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from edge.config import SerialConfig
from edge.sources.serial_lines import ClockMap, PhysioSample, SerialParser
from edge.sources.supervised import SourceFailure, SourceState, SupervisedSource
from edge.sources.timing import safe_seconds

__all__ = ["BUFFER_S", "SerialSource"]

log = logging.getLogger("edge.serial")

BUFFER_S = 120.0  # the deque holds the last 2 minutes of samples at the sensor's rate (at least 250 Hz)
_MIN_RATE_HZ = 250.0
_RATE_WINDOW_S = 2.0
_POLL_S = 0.05  # pyserial read timeout: how often the thread checks stop() and the port's health


class SerialSource(SupervisedSource):
    """The live physiology source: a named thread ("serial") that reads the port into a SerialParser.

    Samples (with `t` on the pipeline clock, see ClockMap) wait in a deque of BUFFER_S seconds at the sensor's
    rate until `drain()` takes them. `health()` reports the state; with no port configured the state is
    "disabled" and start() starts nothing.
    """

    thread_name = "serial"
    _log = log
    _thread_role = "reader"
    _unavailable_note = "physiology sensor unavailable"
    _disabled_detail = "no serial sensor configured"

    def __init__(self, cfg: SerialConfig, clock: Callable[[], float] = time.monotonic):
        super().__init__(
            f"serial port {cfg.port!r}",
            clock,
            safe_seconds(cfg.reopen_initial_s, 0.2),
            safe_seconds(cfg.reopen_max_s, 1.0),
            join_timeout_s=5.0,  # a read returns within _POLL_S
        )
        self._cfg = cfg
        self._silent_after = safe_seconds(cfg.read_timeout_s, 1.0)
        self._parser = SerialParser(cfg.protocol, cfg.ecg_rate_hz, cfg.max_line_bytes)
        self._map = ClockMap()
        rate = max(_MIN_RATE_HZ, self._parser.ecg_rate_hz if self._parser.protocol == "ecg" else _MIN_RATE_HZ)
        self._samples: deque[PhysioSample] = deque(maxlen=int(BUFFER_S * rate))
        self._opened_before = False  # the reader's own: a later opening after a failure is a reopen
        # Guarded by self._lock.
        self._port_open = False
        self._opened_t: float | None = None
        self._last_byte_t: float | None = None
        self._last_line_t: float | None = None
        self._last_sample_t: float | None = None
        self._leads_off_now = False
        self._dropped = 0
        self._recent: deque[tuple[float, int]] = deque()

    @property
    def enabled(self) -> bool:
        return bool(self._cfg.port)

    def drain(self) -> list[PhysioSample]:
        """Every sample received since the last drain, oldest first."""
        with self._lock:
            out = list(self._samples)
            self._samples.clear()
            return out

    # -- SupervisedSource hooks -------------------------------------------------------------------------------

    def _device_state(self, now: float) -> tuple[SourceState, str | None]:
        port = self._cfg.port
        if not self._port_open and self._opened_t is not None:  # the reader is about to report why
            return "unavailable", f"serial port {port!r}: closed, the reader is reopening it"
        if not self._port_open or self._opened_t is None:
            return "starting", self._last_error
        since = self._last_line_t if self._last_line_t is not None else self._opened_t
        if now - since <= self._silent_after:
            return ("ok" if self._last_line_t is not None else "starting"), self._last_error
        if self._last_byte_t is None or now - self._last_byte_t > self._silent_after:
            return "silent", f"serial port {port!r}: no byte for {now - since:.1f} s"
        return "silent", (
            f"serial port {port!r}: bytes but no valid line for {now - since:.1f} s "
            f"(wrong baudrate or protocol {self._parser.protocol!r}?)"
        )

    def _detail(self, state: SourceState, reason: str | None) -> str | None:
        return None if state == "ok" else reason or f"{self._cfg.port}: {state}"

    def _metrics(self, now: float) -> dict[str, Any]:
        p = self._parser
        count = sum(n for t, n in self._recent if now - t <= _RATE_WINDOW_S)
        return {
            "port": self._cfg.port,
            "rate": count / _RATE_WINDOW_S,  # samples (and leads-off lines) per second over the last ~2 s
            "lines": p.lines,
            "samples": p.samples,
            "bad_lines": p.bad_lines,
            "checksum_failures": p.checksum_failures,
            "gaps": p.gaps,  # csv seq numbers that never arrived
            "leads_off": p.leads_off,  # "ecg" `!` lines
            "leads_off_now": self._leads_off_now,  # the latest sample says the ECG leads are off
            "dropped": self._dropped,  # samples pushed out of the buffer before drain() took them
            "reopens": self._reopens,  # times the port was opened again after a failure
            "errors": self._errors,
            "last_sample_age_s": None if self._last_sample_t is None else max(0.0, now - self._last_sample_t),
        }

    def _open_and_pump(self) -> bool:
        """Open the port and read until stop (returns) or a failure (raises)."""
        import serial  # pyserial; imported here so the parser works without it

        port = self._cfg.port or ""
        got_data = False
        try:
            ser = serial.Serial(port, self._cfg.baudrate, timeout=_POLL_S)
        except (serial.SerialException, OSError, ValueError) as err:
            raise SourceFailure(f"serial port {port!r}: cannot open: {err}") from None
        try:
            self._parser.reset()
            self._map.reset()
            with self._lock:
                self._port_open = True
                self._opened_t = self._clock()
                self._last_line_t = None
                self._last_byte_t = None
                if self._opened_before and self._failing:
                    self._reopens += 1
                if self._failing:
                    log.info("serial port %r open again", port)
                self._failing = False
            self._opened_before = True
            while not self._stop.is_set():
                try:
                    data = ser.read(max(1, min(ser.in_waiting, 65536)))
                except (serial.SerialException, OSError) as err:
                    raise SourceFailure(f"serial port {port!r}: read failed: {err}", got_data) from None
                if not data:
                    if not os.path.exists(port):
                        raise SourceFailure(f"serial port {port!r}: the device is gone", got_data)
                    continue
                got_data = True
                self._accept(data)
            return got_data
        finally:
            with self._lock:
                self._port_open = False
            try:
                ser.close()
            except Exception:  # noqa: BLE001
                pass

    def _accept(self, data: bytes) -> None:
        arrival = self._clock()
        samples = self._parser.feed(data)
        mapped = self._map.map_batch([s.t for s in samples], arrival)
        with self._lock:
            self._last_byte_t = arrival
            if samples:
                self._last_line_t = arrival
                self._last_sample_t = arrival
                self._leads_off_now = samples[-1].leads_off
                self._recent.append((arrival, len(samples)))
                while self._recent and arrival - self._recent[0][0] > _RATE_WINDOW_S:
                    self._recent.popleft()
                free = self._samples.maxlen - len(self._samples) if self._samples.maxlen else len(samples)
                self._dropped += max(0, len(samples) - free)
                for s, t in zip(samples, mapped):
                    self._samples.append(dataclasses.replace(s, t=t, t_sensor=s.t, t_arrival=arrival))
