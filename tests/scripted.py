"""A drive without video or models: time vectors of what the vision stage would see, at 30 fps, served through the
same interface as the vision pipeline (process, reset), and the session they go through (openpilot's monitoring
tests drive their policy the same way)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.config import Config
from edge.modalities import REGISTERED
from edge.modalities.base import ModalityKind
from edge.session import DriveSession, OpenModality, recorded_modalities
from edge.stats import StageTimer
from edge.types import EyeCropState, FaceObservation, Frame, HeadPose

FPS = 30.0
OPEN = EyeCropState(closed_prob=0.03, contrast=25.0, saturated=0.0)
CLOSED = EyeCropState(closed_prob=0.97, contrast=20.0, saturated=0.0)


@dataclass(frozen=True)
class Seen:
    """What the camera shows at one frame."""

    present: bool = True
    eyes_closed: bool = False
    yaw: float = 0.0
    pitch: float = 0.0


def driver(seen: Seen, t: float, index: int) -> FaceObservation:
    if not seen.present:
        return FaceObservation.absent(t, index)
    crop, ear = (CLOSED, 0.08) if seen.eyes_closed else (OPEN, 0.30)
    return FaceObservation(
        t=t, frame_index=index, present=True, quality=0.9, tracked=True, landmark_score=0.95, face_size_px=180.0,
        pose=HeadPose(seen.yaw, seen.pitch, 0.0), ear_left=ear, ear_right=ear, mar=0.05, eye_states=(crop, crop),
    )


def timeline(seconds: float, *spans: tuple[float, float, Seen]) -> list[Seen]:
    """One Seen per frame: an attentive driver, except in each (start_s, end_s, seen) span."""
    frames = [Seen()] * int(round(seconds * FPS))
    for start, end, seen in spans:
        for i in range(int(round(start * FPS)), min(len(frames), int(round(end * FPS)))):
            frames[i] = seen
    return frames


class ScriptedVision:
    """The vision stage's interface over a timeline: frame i is the driver as timeline[i] says."""

    def __init__(self, seen: Sequence[Seen]):
        self.seen = list(seen)

    def process(self, frame: Frame) -> FaceObservation:
        return driver(self.seen[frame.index], frame.t, frame.index)

    def reset(self) -> None:
        pass  # nothing is tracked between frames


class Recorder:
    """A sink that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict]] = []

    def publish(self, topic: str, payload: dict) -> None:
        self.messages.append((topic, payload))

    def close(self) -> None:
        pass

    def on(self, topic: str) -> list[dict]:
        return [p for t, p in self.messages if t == topic]


def frames(n: int) -> list[Frame]:
    image = np.zeros((2, 2), np.uint8)
    return [Frame(image, i / FPS, i) for i in range(n)]


def session(seen: Sequence[Seen], cfg: Config | None = None, sink: Recorder | None = None,
            open_modality: OpenModality | None = None, kinds: Sequence[ModalityKind] = REGISTERED) -> DriveSession:
    timer = StageTimer()
    return DriveSession(cfg or Config(), ScriptedVision(seen), open_modality or recorded_modalities({}, timer),
                        [sink] if sink is not None else [], "scripted", timer, kinds=kinds)
