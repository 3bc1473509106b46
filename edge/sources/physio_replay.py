"""Replay of a drive's physiology: `physio.csv` (docs/recording.md, docs/sensors.md) as PhysioSamples.

The first line is the header: `t_s` first (seconds on the drive clock, which is the pipeline clock in replay), the
`ecg` and `gsr` columns found by name wherever they are, other columns ignored. Every line after it is read by the
serial sensor's rules (edge/sources/serial_lines.py; docs/sensors.md, "Lines"): the same line splitting and length
limit, ASCII, plain finite numbers, an empty cell for no value, an ecg cell `!` for leads off, at least one value.
A malformed line (those, a wrong number of fields, a t_s going back) is counted and skipped, as the serial parser
counts and skips garbage, and the replay reports it; with `strict` the first one raises RecordingError naming the
file and line instead. A file that is no physio log (unreadable, a header without t_s or a channel) always raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from edge.skips import LineSkips, Skip
from edge.sources.recording import RecordingError
from edge.sources.serial_lines import LineSplitter, PhysioSample, ascii_text, channel_cells, plain_number

CHANNELS = ("ecg", "gsr")
_CHUNK = 1 << 16


def read_physio_csv(path: str | Path, max_line_bytes: int = 256,
                    strict: bool = False) -> tuple[list[PhysioSample], Skip | None]:
    """Every good sample of a physio.csv, in file order (`t` on the drive clock, `seq` None), and what was skipped.
    `max_line_bytes`: [serial]'s, the limit of the sensor the file stands in for."""
    path = Path(path)
    lines = _lines(path, max_line_bytes)
    number, raw = next(lines, (1, b""))
    header = [h.strip() for h in (ascii_text(raw) or "").split(",")] if raw is not None else []
    if not header or header[0] != "t_s":
        raise RecordingError(f"{path}:{number}: header must start with t_s (got {','.join(header)!r})")
    columns = {name: header.index(name) for name in CHANNELS if name in header}
    if not columns:
        raise RecordingError(f"{path}:{number}: header names no channel: expected ecg and/or gsr")
    samples: list[PhysioSample] = []
    skipped = LineSkips(str(path))
    for number, raw in lines:
        sample = _sample(raw, len(header), columns, max_line_bytes)
        if isinstance(sample, PhysioSample) and samples and sample.t < samples[-1].t:
            sample = f"t_s {sample.t} goes back in time (previous {samples[-1].t})"
        if isinstance(sample, PhysioSample):
            samples.append(sample)
        elif strict:
            raise RecordingError(f"{path}:{number}: {sample} (--strict)")
        else:
            skipped.add(number, samples[-1].t if samples else 0.0, sample)
    return samples, skipped.skip()


def _lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    split = LineSplitter(max_line_bytes)
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                yield from split.feed(chunk)
    except OSError as err:
        raise RecordingError(f"{path}: cannot read: {err}") from None
    yield from split.end()


def _sample(raw: bytes | None, fields: int, columns: dict[str, int], max_line_bytes: int) -> PhysioSample | str:
    """The line's sample, or why it is malformed."""
    if raw is None:
        return f"longer than {max_line_bytes} bytes"
    text = ascii_text(raw)
    if text is None:
        return "not ASCII"
    cells = [c.strip() for c in text.split(",")]
    if len(cells) != fields:
        return f"expected {fields} fields (got {len(cells)})"
    t = plain_number(cells[0])
    if t is None:
        return f"t_s is not a plain finite number ({cells[0]!r})"
    channels = channel_cells(*(cells[columns[name]] if name in columns else None for name in CHANNELS))
    if isinstance(channels, str):
        return channels
    ecg, gsr, leads_off = channels
    return PhysioSample(t, ecg, gsr, None, leads_off)
