"""The frames of a replayed video as OpenCV's FFmpeg backend decodes them, and an account of those that did not
arrive (edge/skips.py; docs/recording.md, "What a replay skips").

OpenCV's `read()` is False both at the end of the file and when the decoder refuses a packet (FFmpeg says why on
stderr; nothing else does). So a failed read is not taken for the end at once: the reader goes on for as many
frames as the container still declares (at least RETRIES), and frames that failed before a later one decoded are
counted as undecodable. Fewer frames arriving, decoded or not, than the container declares (or video_ts.csv has
rows for) is a missing tail. Only what the decoder refuses can be counted: a damaged frame that FFmpeg conceals (a
JPEG decoded with errors) arrives as a frame, and a block the demuxer drops unseen shortens the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2

from edge.skips import PLACES, Skip
from edge.types import Frame

RETRIES = 100  # failed reads taken for the end when the container declares no more frames (or no count)


@dataclass(slots=True)
class FrameAccount:
    """One pass over a video: what arrived, and what did not."""

    file: str
    declared: int | None  # frames the container declares, or video_ts.csv has rows for
    declared_by: str  # who declares them, as the report says it: "... {n} ..." (n: the count)
    delivered: int = 0
    undecodable: int = 0
    undecodable_at: list[float] = field(default_factory=list)  # the first PLACES, on the recording's clock
    tail_from: float | None = None  # where the missing tail starts
    untimed: int = 0  # frames after the last row of video_ts.csv

    @property
    def arrived(self) -> int:
        return self.delivered + self.undecodable

    def failed(self, times: Sequence[float]) -> None:
        self.undecodable += len(times)
        self.undecodable_at += times[: PLACES - len(self.undecodable_at)]

    def skips(self) -> list[Skip]:
        out = []
        if self.undecodable:
            out.append(Skip(self.file, "undecodable_frames", self.undecodable, tuple(self.undecodable_at)))
        missing = self.declared - self.arrived if self.declared is not None else 0
        if missing > 0:
            out.append(Skip(self.file, "missing_frames", missing, () if self.tail_from is None else (self.tail_from,),
                            detail=f"{self.declared_by.format(n=self.declared)}, {self.arrived} arrived"))
        if self.untimed:
            out.append(Skip(self.file, "untimed_frames", self.untimed, detail="not replayed: they have no time"))
        return out


def frames_with_ts(cap: cv2.VideoCapture, times: Sequence[float], account: FrameAccount) -> Iterator[Frame]:
    """One frame per row of video_ts.csv, at the row's time; a row whose frame does not decode is skipped."""
    failed: list[float] = []
    for index, t in enumerate(times):
        ok, image = cap.read()
        if not ok:
            failed.append(t)
            continue
        account.failed(failed)
        failed = []
        account.delivered += 1
        yield Frame(image=image, t=t, index=index)
    if failed:
        account.tail_from = failed[0]
        return
    while cap.grab():  # frames beyond the timestamps: never given invented times
        account.untimed += 1


def frames_by_position(cap: cv2.VideoCapture, fps: float, account: FrameAccount) -> Iterator[Frame]:
    """Every frame at its presentation time (docs/recording.md, "Replaying"). POS_MSEC is the frame's time, but
    some containers report 0 (or repeat a value) for the first frames; then the time advances by one frame period,
    so t starts at 0.0 (later by the frames before the first that did not decode) and strictly increases."""
    period = 1.0 / fps
    origin: float | None = None
    last_t = -math.inf
    index = failed = 0
    while True:
        ok, image = cap.read()
        if not ok:
            failed += 1
            if failed >= max(RETRIES, (account.declared or 0) - account.arrived):  # the end
                account.tail_from = last_t + period if account.delivered else 0.0
                return
            continue
        pos_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
        if origin is None:
            t = failed * period
            origin = (pos_ms / 1000.0 if math.isfinite(pos_ms) else 0.0) - t
        else:
            t = pos_ms / 1000.0 - origin if math.isfinite(pos_ms) else -math.inf
            if t <= last_t:
                t = last_t + period
        if failed:
            start = last_t + period if account.delivered else 0.0
            account.failed([start + k * period for k in range(failed)])
            index += failed
            failed = 0
        account.delivered += 1
        yield Frame(image=image, t=t, index=index)
        last_t = t
        index += 1
