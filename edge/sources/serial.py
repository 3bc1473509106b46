"""Physiology sensors (ECG, GSR) on a serial port: the line parser and a supervised reader thread.

docs/sensors.md documents the two line protocols ("csv": `seq,t_ms,ecg,gsr[*XX]`; "ecg": one value per line, `!`
when the leads are off), the timing and the health states. The parser is pure and never raises: whatever the
port sends is counted (sample, bad line, checksum failure or leads-off) and skipped when it is not a sample.
The reader thread never dies on a device error: it closes the port, reports "unavailable" with the reason, and
reopens with exponential backoff (reopen_initial_s doubling up to reopen_max_s).

Times: the parser gives each sample its time on the *sensor* clock (csv: t_ms / 1000; "ecg": line index /
ecg_rate_hz). SerialSource maps it onto the *pipeline* clock (see ClockMap) so `PhysioSample.t` of a drained sample
is comparable with frame times, while the spacing of samples stays the sensor's own (what heart-rate variability
needs); `t_sensor` and `t_arrival` keep the raw sensor time and the pipeline-clock time the bytes were read.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from edge.config import SerialConfig
from edge.sources.timing import safe_seconds

log = logging.getLogger("edge.serial")

Protocol = Literal["csv", "ecg"]
SerialState = Literal["disabled", "starting", "ok", "silent", "unavailable", "stopped"]

SEQ_MODULUS = 65536  # csv seq is a 16-bit counter: 65535 is followed by 0
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SEQ = re.compile(r"\d{1,5}")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
LEADS_OFF = "!"

# SerialSource
BUFFER_S = 120.0  # the deque holds the last 2 minutes of samples at the sensor's rate (at least 250 Hz)
_MIN_RATE_HZ = 250.0
_RATE_WINDOW_S = 2.0
_POLL_S = 0.05  # pyserial read timeout: how often the thread checks stop() and the port's health
# ClockMap
_SLEW = 0.01  # the offset may grow by 1 % of elapsed sensor time (tracks a sensor clock up to 1 % slow)
_RESYNC_S = 0.5  # mapped times lagging arrival by more than this (sensor reset, lost data): start over


@dataclass(frozen=True, slots=True)
class PhysioSample:
    """One sample. From SerialParser and read_physio_csv `t` is on the sensor (or drive) clock; SerialSource.drain()
    gives `t` on the pipeline clock (docs/sensors.md, "Timing"). `ecg`/`gsr` are None when the line did not carry
    that channel; `leads_off` is True when the sensor said the ECG electrodes are off (then `ecg` is None)."""

    t: float
    ecg: float | None
    gsr: float | None
    seq: int | None
    leads_off: bool
    t_sensor: float | None = None  # the sensor-clock time (set by SerialSource; the parser's `t` is this)
    t_arrival: float | None = None  # pipeline-clock time the line's last byte was read (set by SerialSource)


class SerialParser:
    """Bytes in, samples out. Buffers partial lines across feed() calls; never raises.

    Counters (all only grow): `lines` = complete non-blank lines seen, and every one of them is exactly one of
    `samples` (gave a measurement), `bad_lines` (unparseable, wrong field count, non-numeric, non-finite, out of
    range, longer than max_line_bytes, not ASCII, malformed `*` suffix), `checksum_failures` (csv `*XX` did not
    match) or `leads_off` ("ecg" protocol `!` lines; they come back as samples with leads_off=True and no values).
    So `lines == samples + bad_lines + checksum_failures + leads_off` always. `gaps` counts csv seq numbers that
    never arrived (modulo 65536); `seq_resets` counts seq jumps too large to be losses (backwards, repeated, or
    ≥ 32768 ahead: a sensor restart), which restart the gap check instead. Blank lines (also the empty pieces of
    CR-LF endings) are ignored and not counted.
    """

    def __init__(self, protocol: Protocol = "csv", ecg_rate_hz: float = 250.0, max_line_bytes: int = 256):
        self.protocol: Protocol = "ecg" if protocol == "ecg" else "csv"
        try:
            rate = float(ecg_rate_hz)
        except (TypeError, ValueError):
            rate = 250.0
        self.ecg_rate_hz = rate if math.isfinite(rate) and rate > 0 else 250.0
        try:
            limit = int(max_line_bytes)
        except (TypeError, ValueError, OverflowError):
            limit = 256
        self.max_line_bytes = max(1, limit)
        self.lines = 0
        self.samples = 0
        self.bad_lines = 0
        self.checksum_failures = 0
        self.gaps = 0
        self.seq_resets = 0
        self.leads_off = 0
        self._buf = bytearray()
        self._overflow = False  # the current line is already too long: skip to its end
        self._last_seq: int | None = None
        self._index = 0  # "ecg": lines so far, the sample clock

    def counters(self) -> dict[str, int]:
        return {
            "lines": self.lines,
            "samples": self.samples,
            "bad_lines": self.bad_lines,
            "checksum_failures": self.checksum_failures,
            "gaps": self.gaps,
            "seq_resets": self.seq_resets,
            "leads_off": self.leads_off,
        }

    def reset(self) -> None:
        """Forget the partial line and the seq history (after a reopen); counters and the "ecg" index go on."""
        self._buf.clear()
        self._overflow = False
        self._last_seq = None

    def feed(self, data: bytes) -> list[PhysioSample]:
        out: list[PhysioSample] = []
        try:
            chunk = bytes(data)
        except Exception:  # noqa: BLE001 - not bytes-like: nothing to parse
            return out
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if self._overflow:
                pass  # still inside a line that is already too long
            elif len(self._buf) + len(piece) > self.max_line_bytes + 1:  # +1: a CR before the LF is not content
                self._buf.clear()
                self._overflow = True
            else:
                self._buf += piece
            if end < 0:
                return out
            start = end + 1
            self._line_done(out)

    def _line_done(self, out: list[PhysioSample]) -> None:
        raw = bytes(self._buf)
        overflow = self._overflow
        self._buf.clear()
        self._overflow = False
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not overflow and not raw.strip(b"\r \t"):
            return  # blank
        self.lines += 1
        try:
            if overflow or len(raw) > self.max_line_bytes:
                kind, sample = "bad", None
            else:
                kind, sample = self._parse(raw)
        except Exception:  # noqa: BLE001 - a parser bug must not escape: count the line as bad
            kind, sample = "bad", None
        if self.protocol == "ecg":
            self._index += 1  # every line takes one sample slot: a garbled line most likely was a sample
        if kind == "sample":
            self.samples += 1
        elif kind == "leads_off":
            self.leads_off += 1
        elif kind == "checksum":
            self.checksum_failures += 1
        else:
            self.bad_lines += 1
        if sample is not None:
            out.append(sample)

    def _parse(self, raw: bytes) -> tuple[str, PhysioSample | None]:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return "bad", None
        if self.protocol == "ecg":
            return self._parse_ecg(text.strip())
        return self._parse_csv(raw, text)

    def _parse_ecg(self, text: str) -> tuple[str, PhysioSample | None]:
        t = self._index / self.ecg_rate_hz
        if text == LEADS_OFF:
            return "leads_off", PhysioSample(t, None, None, None, True)
        value = _number(text)
        if value is None:
            return "bad", None
        return "sample", PhysioSample(t, value, None, None, False)

    def _parse_csv(self, raw: bytes, text: str) -> tuple[str, PhysioSample | None]:
        star = text.find("*")
        if star >= 0:
            suffix = text[star + 1 :].strip()
            if not _HEX2.fullmatch(suffix):
                return "bad", None
            checksum = 0
            for byte in raw[:star]:
                checksum ^= byte
            if checksum != int(suffix, 16):
                return "checksum", None
            text = text[:star]
        fields = text.split(",")
        if len(fields) != 4:
            return "bad", None
        seq_text, t_text, ecg_text, gsr_text = (f.strip() for f in fields)
        if not _SEQ.fullmatch(seq_text):
            return "bad", None
        seq = int(seq_text)
        t_ms = _number(t_text)
        if seq >= SEQ_MODULUS or t_ms is None or t_ms < 0:
            return "bad", None
        leads_off = ecg_text == LEADS_OFF
        ecg = None if leads_off or ecg_text == "" else _number(ecg_text)
        gsr = None if gsr_text == "" else _number(gsr_text)
        if (ecg is None and ecg_text not in ("", LEADS_OFF)) or (gsr is None and gsr_text != ""):
            return "bad", None
        if ecg is None and gsr is None and not leads_off:
            return "bad", None  # no channel at all
        self._track_seq(seq)
        return "sample", PhysioSample(t_ms / 1000.0, ecg, gsr, seq, leads_off)

    def _track_seq(self, seq: int) -> None:
        if self._last_seq is not None:
            missing = (seq - self._last_seq - 1) % SEQ_MODULUS
            if missing >= SEQ_MODULUS // 2 - 1:  # repeated, backwards or a jump of half the range: a restart
                self.seq_resets += 1
            else:
                self.gaps += missing
        self._last_seq = seq


def _number(text: str) -> float | None:
    """A finite decimal number (digits, optional sign, point and exponent; no nan/inf/underscores), else None."""
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


class ClockMap:
    """Maps sensor-clock times onto the pipeline clock: t = t_sensor + offset.

    A line cannot arrive before it was sent, so `arrival - t_sensor` is the offset plus the transport delay; the
    offset follows the smallest value seen (the least-delayed line), stepping down at once, and creeping up by at
    most 1 % of elapsed sensor time so a sensor clock that runs slow is followed too. Each read's lines are mapped
    together after the offset has seen all of them, so a backlog read at once keeps its sensor spacing. When the
    mapped time lags the arrival by more than 0.5 s (a sensor restart, a clock jump, lost data) the map starts
    over. Mapped times never decrease (a step down is absorbed by repeating the last time).
    """

    def __init__(self) -> None:
        self.offset: float | None = None
        self.resyncs = 0
        self._last_sensor: float | None = None
        self._last_t: float | None = None

    def reset(self) -> None:
        self.offset = None
        self._last_sensor = None

    def map_batch(self, sensor_times: list[float], arrival: float) -> list[float]:
        if not sensor_times:
            return []
        least = arrival - max(sensor_times)  # the least delayed line of this read
        if (
            self.offset is None
            or least - self.offset > _RESYNC_S
            or (self._last_sensor is not None and min(sensor_times) < self._last_sensor - _RESYNC_S)
        ):
            if self.offset is not None:
                self.resyncs += 1
            self.offset = least
        elif least < self.offset:
            self.offset = least
        else:
            elapsed = max(0.0, max(sensor_times) - (self._last_sensor if self._last_sensor is not None else 0.0))
            self.offset += min(least - self.offset, _SLEW * elapsed)
        self._last_sensor = max(sensor_times)
        mapped = []
        for t_sensor in sensor_times:
            t = t_sensor + self.offset
            if self._last_t is not None and t < self._last_t:
                t = self._last_t
            self._last_t = t
            mapped.append(t)
        return mapped


@dataclass(frozen=True, slots=True)
class SerialHealth:
    state: SerialState
    rate: float  # samples (and leads-off lines) per second over the last ~2 s
    lines: int
    samples: int
    bad_lines: int
    checksum_failures: int
    gaps: int  # csv seq numbers that never arrived
    leads_off: int  # "ecg" `!` lines
    leads_off_now: bool  # the latest sample says the ECG leads are off (either protocol)
    dropped: int  # samples pushed out of the buffer before drain() took them
    reopens: int  # times the port was opened again after a failure
    errors: int  # open/read failures and unexpected exceptions
    last_error: str | None
    last_sample_age_s: float | None  # None before the first sample

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _PortGone(Exception):
    pass


class SerialSource:
    """The live physiology source: a named thread ("serial") that reads the port into a SerialParser.

    Samples (with `t` on the pipeline clock, see ClockMap) wait in a deque of BUFFER_S seconds at the sensor's
    rate until `drain()` takes them. `health()` reports the state; with no port configured the state is
    "disabled" and start() starts nothing.
    """

    def __init__(self, cfg: SerialConfig, clock: Callable[[], float] = time.monotonic):
        self._cfg = cfg
        self._clock = clock
        self._reopen_initial = safe_seconds(cfg.reopen_initial_s, 0.2)
        self._reopen_max = max(self._reopen_initial, safe_seconds(cfg.reopen_max_s, 1.0))
        self._silent_after = safe_seconds(cfg.read_timeout_s, 1.0)
        self._parser = SerialParser(cfg.protocol, cfg.ecg_rate_hz, cfg.max_line_bytes)
        self._map = ClockMap()
        rate = max(_MIN_RATE_HZ, self._parser.ecg_rate_hz if self._parser.protocol == "ecg" else _MIN_RATE_HZ)
        self._samples: deque[PhysioSample] = deque(maxlen=int(BUFFER_S * rate))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Guarded by self._lock.
        self._port_open = False
        self._failing = False
        self._opened_t: float | None = None
        self._last_byte_t: float | None = None
        self._last_line_t: float | None = None
        self._last_sample_t: float | None = None
        self._leads_off_now = False
        self._dropped = 0
        self._reopens = 0
        self._errors = 0
        self._last_error: str | None = None
        self._recent: deque[tuple[float, int]] = deque()
        self._death: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self._cfg.port)

    def start(self) -> SerialSource:
        if self._thread is not None:
            raise RuntimeError("SerialSource already started")
        if not self.enabled:
            return self
        thread = threading.Thread(target=self._run, name="serial", daemon=True)
        thread.start()
        self._thread = thread
        return self

    def stop(self) -> None:
        """Stop the thread and close the port (a read returns within _POLL_S)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            if self._thread.is_alive():
                log.error("serial thread did not stop within 5 s")

    def __enter__(self) -> SerialSource:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def drain(self) -> list[PhysioSample]:
        """Every sample received since the last drain, oldest first."""
        with self._lock:
            out = list(self._samples)
            self._samples.clear()
            return out

    def health(self) -> SerialHealth:
        p = self._parser
        with self._lock:
            now = self._clock()
            last_error = self._last_error
            age = None if self._last_sample_t is None else max(0.0, now - self._last_sample_t)
            if not self.enabled:
                state: SerialState = "disabled"
                last_error = None
            elif self._stop.is_set():
                state = "stopped"
            elif self._thread is not None and not self._thread.is_alive():
                state = "unavailable"
                last_error = f"serial port {self._cfg.port!r}: the reader thread stopped unexpectedly"
                if self._death is not None:
                    last_error += f" ({self._death})"
            elif self._failing or (not self._port_open and self._opened_t is not None):
                state = "unavailable"
                if not self._failing:  # the port has just closed; the reader is about to report why
                    last_error = f"serial port {self._cfg.port!r}: closed, the reader is reopening it"
            elif not self._port_open or self._opened_t is None:
                state = "starting"
            else:
                since = self._last_line_t if self._last_line_t is not None else self._opened_t
                if now - since <= self._silent_after:
                    state = "ok" if self._last_line_t is not None else "starting"
                else:
                    state = "silent"
                    if self._last_byte_t is None or now - self._last_byte_t > self._silent_after:
                        last_error = f"serial port {self._cfg.port!r}: no byte for {now - since:.1f} s"
                    else:
                        last_error = (
                            f"serial port {self._cfg.port!r}: bytes but no valid line for {now - since:.1f} s "
                            f"(wrong baudrate or protocol {p.protocol!r}?)"
                        )
            recent = [(t, n) for t, n in self._recent if now - t <= _RATE_WINDOW_S]
            count = sum(n for _, n in recent)
            return SerialHealth(
                state=state,
                rate=count / _RATE_WINDOW_S,
                lines=p.lines,
                samples=p.samples,
                bad_lines=p.bad_lines,
                checksum_failures=p.checksum_failures,
                gaps=p.gaps,
                leads_off=p.leads_off,
                leads_off_now=self._leads_off_now,
                dropped=self._dropped,
                reopens=self._reopens,
                errors=self._errors,
                last_error=last_error,
                last_sample_age_s=age,
            )

    # -- reader thread --------------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self._reopen_initial
        opened_before = False
        try:
            while not self._stop.is_set():
                got_data = False
                try:
                    got_data = self._read_once(reopen=opened_before)
                    opened_before = True
                except Exception as err:  # noqa: BLE001 - the thread must survive anything the port throws
                    if isinstance(err, _PortGone) and err.args[1] is not None:
                        opened_before = True
                        got_data = bool(err.args[1])
                    self._report_failure(err)
                if self._stop.is_set():
                    break
                if got_data:  # the port worked since the last failure: start the backoff over
                    backoff = self._reopen_initial
                if self._stop.wait(backoff):
                    break
                backoff = min(backoff * 2.0, self._reopen_max)
        except BaseException as err:  # noqa: BLE001 - not an Exception: the thread ends here
            with self._lock:
                self._errors += 1
                self._death = f"{type(err).__name__}: {err}"
            log.critical("serial reader thread stopped unexpectedly", exc_info=True)

    def _read_once(self, reopen: bool) -> bool:
        """Open the port and read until stop (returns) or a failure (raises _PortGone or anything else)."""
        import serial  # pyserial; imported here so the parser works without it

        port = self._cfg.port or ""
        got_data = False
        try:
            ser = serial.Serial(port, self._cfg.baudrate, timeout=_POLL_S)
        except (serial.SerialException, OSError, ValueError) as err:
            raise _PortGone(f"serial port {port!r}: cannot open: {err}", None) from None
        try:
            self._parser.reset()
            self._map.reset()
            with self._lock:
                self._port_open = True
                self._opened_t = self._clock()
                self._last_line_t = None
                self._last_byte_t = None
                if reopen and self._failing:
                    self._reopens += 1
                if self._failing:
                    log.info("serial port %r open again", port)
                self._failing = False
            while not self._stop.is_set():
                try:
                    data = ser.read(max(1, min(ser.in_waiting, 65536)))
                except (serial.SerialException, OSError) as err:
                    raise _PortGone(f"serial port {port!r}: read failed: {err}", got_data) from None
                if not data:
                    if not os.path.exists(port):
                        raise _PortGone(f"serial port {port!r}: the device is gone", got_data)
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

    def _report_failure(self, err: Exception) -> None:
        if isinstance(err, _PortGone):
            message = str(err.args[0])
        else:
            log.exception("unexpected serial error")
            message = f"serial port {self._cfg.port!r}: {type(err).__name__}: {err}"
        with self._lock:
            self._errors += 1
            self._failing = True
            self._last_error = message
        log.warning("%s; physiology sensor unavailable", message)
