"""The `state` payload (schema version 1) built from the latest observation, at `state_hz` on the pipeline clock.

Pure: no clock, no I/O. The same payloads go to MQTT, to JSON lines and to the console, so a replay's JSON
lines show exactly what the daemon would publish.
"""

from __future__ import annotations

from typing import Any

from edge.types import FaceObservation

SCHEMA_VERSION = 1


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def state_payload(obs: FaceObservation) -> dict[str, Any]:
    pose = obs.pose
    emotion = obs.emotion
    return {
        "v": SCHEMA_VERSION,
        "t": round(obs.t, 3),
        "frame": obs.frame_index,
        "face": {
            "present": obs.present,
            "quality": _r(obs.quality),
            "tracked": obs.tracked,
            "detector_score": _r(obs.detector_score),
            "landmark_score": _r(obs.landmark_score),
            "size_px": _r(obs.face_size_px, 1),
            "yaw": _r(pose.yaw, 2) if pose else None,
            "pitch": _r(pose.pitch, 2) if pose else None,
            "roll": _r(pose.roll, 2) if pose else None,
        },
        "eyes": {"ear_left": _r(obs.ear_left), "ear_right": _r(obs.ear_right)},
        "mouth": {"mar": _r(obs.mar)},
        "emotion": {
            "scores": {k: round(v, 4) for k, v in emotion.scores.items()} if emotion else None,
            "dominant": emotion.dominant if emotion else None,
            "t": round(emotion.t, 3) if emotion else None,
        },
    }


class RateGate:
    """Lets one event through per 1/hz seconds of pipeline time; the first always passes."""

    def __init__(self, hz: float):
        self.period = 1.0 / hz
        self._next: float | None = None

    def due(self, t: float) -> bool:
        if self._next is not None and t < self._next - 1e-9:
            return False
        # Advance on the grid, not from `t`, so a 2 Hz state stays 2 Hz on a camera whose period does not divide
        # 0.5 s; after a gap (camera down) restart from now rather than bursting to catch up.
        self._next = t + self.period if self._next is None or t - self._next > self.period else self._next + self.period
        return True
