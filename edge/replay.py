"""Replay: every frame of a recording, in order, through a drive session, as the daemon would have run it.

Time comes from the recording's own timestamps, so a replay is deterministic; `pace` only decides how long to wait
between frames (0: not at all, 1: real time). The session's modalities take their recorded streams (a drive's
audio.wav, physio.csv) in step with the video: before each frame, everything stamped up to the frame's time, so
each stage sees exactly what a live daemon would have had at that moment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from edge.monitor.driver import DriverState
from edge.names import SCHEMA_VERSION
from edge.session import DriveSession
from edge.skips import Skip
from edge.types import Frame


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    frames: int
    face_frames: int
    media_seconds: float
    elapsed_s: float
    states: int
    skipped: tuple[Skip, ...] = ()  # what the input left out (edge/skips.py): filled in by whoever knows the input

    @property
    def face_found_pct(self) -> float:
        return 100.0 * self.face_frames / self.frames if self.frames else 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.frames} frames ({self.media_seconds:.1f} s of video), face found in {self.face_found_pct:.1f} %, "
            f"{self.states} state messages, {self.elapsed_s:.2f} s at {self.fps:.0f} fps"
        )

    def payload(self) -> dict[str, Any]:
        """The last line of a RUN.jsonl (docs/schemas/replay.json): what was replayed and skipped, not how fast, so
        a replay's file stays the same from run to run."""
        return {"v": SCHEMA_VERSION, "frames": self.frames, "face_frames": self.face_frames,
                "media_s": round(self.media_seconds, 3), "states": self.states,
                "skipped": [s.payload() for s in self.skipped]}


def replay(
    frames: Iterable[Frame],
    session: DriveSession,
    pace: float = 0.0,
    on_frame: Callable[[int, DriverState], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ReplaySummary:
    """Every frame through `session`, then an `end` for every alert still open ("end of recording")."""
    started = clock()
    first_t: float | None = None
    last_t = 0.0
    n = faces = 0
    for frame in frames:
        if first_t is None:
            first_t = frame.t
        if pace > 0:
            wait = (frame.t - first_t) / pace - (clock() - started)
            if wait > 0:
                sleep(wait)
        state = session.frame(frame)
        n += 1
        faces += state.obs.present
        last_t = frame.t
        if on_frame is not None:
            on_frame(n, state)
    session.end(last_t, "end of recording")
    media = (last_t - first_t) if first_t is not None else 0.0
    return ReplaySummary(n, faces, media, clock() - started, session.publisher.states)
