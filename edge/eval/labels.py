"""Labels of real drives (labels.json, docs/eval.md): per clip its fps, frame count and labelled events, each with
inclusive 0-based frame edges as OpenCV decodes them. Loading validates every entry and names the bad one."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.eval.scoring import Interval

LABEL_KINDS = ("eyes_closed", "yawn", "looking_away", "talking", "face_absent")
EDGE_FRAMES = {"talking": 10}  # how far a label edge may be off, in frames; the others: DEFAULT_EDGE_FRAMES
DEFAULT_EDGE_FRAMES = 3


class LabelsError(ValueError):
    """A labels file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class LabelEvent:
    kind: str
    start_frame: int  # inclusive
    end_frame: int  # inclusive
    confidence: str
    ge_1s: bool  # eyes_closed: the closure lasted >= 1 s (the only ones scored); True for the other kinds
    note: str = ""

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame + 1


@dataclass(frozen=True, slots=True)
class ClipLabels:
    clip: str
    fps: float
    frames: int
    events: tuple[LabelEvent, ...]

    @property
    def stem(self) -> str:
        return Path(self.clip).stem

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    def interval(self, event: LabelEvent, times: Sequence[float] | None = None) -> Interval:
        """The event in seconds, half-open: from its first frame's time to the time of the frame after its last
        (frame k at `times[k]` when the replay's own times are given, else at k / fps)."""
        return Interval(self.frame_time(event.start_frame, times), self.frame_time(event.end_frame + 1, times))

    def frame_time(self, k: int, times: Sequence[float] | None = None) -> float:
        if times is not None and 0 <= k < len(times):
            return times[k]
        if times:  # past the replayed frames: one period after the last
            return times[-1] + (k - len(times) + 1) / self.fps
        return k / self.fps

    def tolerance_s(self, kind: str) -> float:
        return EDGE_FRAMES.get(kind, DEFAULT_EDGE_FRAMES) / self.fps


def load_labels(path: str | Path) -> dict[str, ClipLabels]:
    """Every entry of a labels.json, by clip file name. Raises LabelsError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabelsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LabelsError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(data, list):
        raise LabelsError(f"{path}: expected a list of clip entries, got {type(data).__name__}")
    clips: dict[str, ClipLabels] = {}
    for i, entry in enumerate(data):
        clip = _entry(entry, f"{path}: entry {i}")
        if clip.clip in clips:
            raise LabelsError(f"{path}: entry {i}: clip {clip.clip!r} is labelled twice")
        clips[clip.clip] = clip
    return clips


def find_clip(labels: dict[str, ClipLabels], name: str) -> ClipLabels | None:
    """The entry for a clip named by its file name, or by its stem (RUN.jsonl named after the clip)."""
    if name in labels:
        return labels[name]
    stem = Path(name).stem
    matches = [c for c in labels.values() if c.stem == stem]
    return matches[0] if len(matches) == 1 else None


def _entry(entry: Any, where: str) -> ClipLabels:
    if not isinstance(entry, dict):
        raise LabelsError(f"{where}: expected an object, got {type(entry).__name__}")
    clip = entry.get("clip")
    if not isinstance(clip, str) or not clip:
        raise LabelsError(f"{where}: 'clip' must be a file name")
    where = f"{where} ({clip})"
    fps, frames = entry.get("fps"), entry.get("frames")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise LabelsError(f"{where}: 'fps' must be a number > 0, got {fps!r}")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames <= 0:
        raise LabelsError(f"{where}: 'frames' must be an integer > 0, got {frames!r}")
    events = entry.get("events")
    if not isinstance(events, list):
        raise LabelsError(f"{where}: 'events' must be a list")
    parsed = tuple(_event(e, f"{where}: event {j}", float(fps), frames) for j, e in enumerate(events))
    return ClipLabels(clip, float(fps), frames, parsed)


def _event(event: Any, where: str, fps: float, frames: int) -> LabelEvent:
    if not isinstance(event, dict):
        raise LabelsError(f"{where}: expected an object, got {type(event).__name__}")
    kind = event.get("kind")
    if kind not in LABEL_KINDS:
        raise LabelsError(f"{where}: 'kind' must be one of {', '.join(LABEL_KINDS)}, got {kind!r}")
    start, end = event.get("start_frame"), event.get("end_frame")
    for name, value in (("start_frame", start), ("end_frame", end)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise LabelsError(f"{where} ({kind}): '{name}' must be an integer frame, got {value!r}")
    assert isinstance(start, int) and isinstance(end, int)
    if not 0 <= start <= end < frames:
        raise LabelsError(f"{where} ({kind}): need 0 <= start_frame <= end_frame < frames ({frames}), "
                          f"got {start}..{end}")
    ge_1s = event.get("ge_1s")
    if ge_1s is None:
        ge_1s = (end - start + 1) / fps >= 1.0 - 1e-9
    elif not isinstance(ge_1s, bool):
        raise LabelsError(f"{where} ({kind}): 'ge_1s' must be true or false, got {ge_1s!r}")
    note = event.get("note", "")
    return LabelEvent(kind, start, end, str(event.get("confidence", "")), ge_1s if kind == "eyes_closed" else True,
                      note if isinstance(note, str) else "")
