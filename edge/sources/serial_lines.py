"""The serial physiology sensor's line protocol, pure: bytes in, PhysioSamples out (SerialParser), and the map of
the sensor's clock onto the pipeline clock (ClockMap). docs/sensors.md documents both protocols.

"csv": `seq,t_ms,ecg,gsr[*XX]`; "ecg": one value per line, `!` when the leads are off. The parser never raises:
whatever the port sends is counted (sample, bad line, checksum failure or leads-off) and skipped when it is not a
sample. It gives each sample its time on the *sensor* clock (csv: t_ms / 1000; "ecg": line index / ecg_rate_hz);
SerialSource (serial.py) maps it with ClockMap. PhysioSample is defined here, where the parser makes it;
edge.sources.serial re-exports it (the name most code imports it by). The line rules (LineSplitter, ascii_text,
plain_number, channel_cells) are also those of a drive's physio.csv (physio_replay.py): one place for each.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

Protocol = Literal["csv", "ecg"]

SEQ_MODULUS = 65536  # csv seq is a 16-bit counter: 65535 is followed by 0
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SEQ = re.compile(r"\d{1,5}")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
LEADS_OFF = "!"

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
        self._split = LineSplitter(self.max_line_bytes)
        self.lines = 0
        self.samples = 0
        self.bad_lines = 0
        self.checksum_failures = 0
        self.gaps = 0
        self.seq_resets = 0
        self.leads_off = 0
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
        self._split.reset()
        self._last_seq = None

    def feed(self, data: bytes) -> list[PhysioSample]:
        out: list[PhysioSample] = []
        for _, raw in self._split.feed(data):
            self._line_done(raw, out)
        return out

    def _line_done(self, raw: bytes | None, out: list[PhysioSample]) -> None:
        self.lines += 1
        try:
            kind, sample = ("bad", None) if raw is None else self._parse(raw)
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
        text = ascii_text(raw)
        if text is None:
            return "bad", None
        if self.protocol == "ecg":
            return self._parse_ecg(text.strip())
        return self._parse_csv(raw, text)

    def _parse_ecg(self, text: str) -> tuple[str, PhysioSample | None]:
        t = self._index / self.ecg_rate_hz
        if text == LEADS_OFF:
            return "leads_off", PhysioSample(t, None, None, None, True)
        value = plain_number(text)
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
        t_ms = plain_number(t_text)
        if seq >= SEQ_MODULUS or t_ms is None or t_ms < 0:
            return "bad", None
        channels = channel_cells(ecg_text, gsr_text)
        if isinstance(channels, str):
            return "bad", None
        ecg, gsr, leads_off = channels
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


class LineSplitter:
    """Bytes in, complete lines out, as docs/sensors.md ("Lines") defines a line: LF ends it, a CR before the LF is
    dropped, a blank one (only spaces, tabs, CRs) is dropped, and one longer than max_line_bytes comes out as None
    (garbage) without more than max_line_bytes of it ever being buffered. Each comes with its line number (from 1,
    blank lines counted). The serial parser splits the port's bytes with it, and the physio.csv reader a file's."""

    def __init__(self, max_line_bytes: int = 256):
        self.max_line_bytes = max_line_bytes
        self.number = 0  # lines ended so far
        self._buf = bytearray()
        self._overflow = False  # the current line is already too long: skip to its end

    def reset(self) -> None:
        """Forget the partial line (the line count goes on)."""
        self._buf.clear()
        self._overflow = False

    def feed(self, data: bytes) -> list[tuple[int, bytes | None]]:
        out: list[tuple[int, bytes | None]] = []
        try:
            chunk = bytes(data)
        except Exception:  # noqa: BLE001 - not bytes-like: nothing to split
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

    def end(self) -> list[tuple[int, bytes | None]]:
        """The last line when the input ends without a LF (a file's; a port's partial line is never complete)."""
        out: list[tuple[int, bytes | None]] = []
        if self._buf or self._overflow:
            self._line_done(out)
        return out

    def _line_done(self, out: list[tuple[int, bytes | None]]) -> None:
        raw = bytes(self._buf)
        overflow = self._overflow
        self.reset()
        self.number += 1
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if overflow or len(raw) > self.max_line_bytes:
            out.append((self.number, None))
        elif raw.strip(b"\r \t"):
            out.append((self.number, raw))


def ascii_text(raw: bytes) -> str | None:
    """A line's text; None when it is not ASCII (garbage: a sensor sends ASCII)."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return None


def plain_number(text: str) -> float | None:
    """A finite decimal number (digits, optional sign, point and exponent; no nan/inf/underscores), else None."""
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def channel_cells(ecg: str | None, gsr: str | None) -> tuple[float | None, float | None, bool] | str:
    """A line's ECG and GSR cells, stripped (None: the line has no such column), as (ecg, gsr, leads_off), or why
    they are no sample. ECG: a number, empty (no value) or `!` (leads off: no value); GSR: a number or empty; a line
    must carry at least one value or say leads off. The serial csv protocol and physio.csv share this rule."""
    leads_off = ecg == LEADS_OFF
    ecg_value = None if ecg is None or leads_off or ecg == "" else plain_number(ecg)
    gsr_value = None if gsr is None or gsr == "" else plain_number(gsr)
    for name, cell, value in (("ecg", ecg, ecg_value), ("gsr", gsr, gsr_value)):
        if value is None and cell not in (None, "", *((LEADS_OFF,) if name == "ecg" else ())):
            return f"{name} is not a plain finite number ({cell!r})"
    if ecg_value is None and gsr_value is None and not leads_off:
        return "no ecg or gsr value"
    return ecg_value, gsr_value, leads_off


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
