"""A human-readable line per state message, for `dms demo` and a terminal watching `dms replay`."""

from __future__ import annotations

import sys
from typing import IO, Any


def format_state(p: dict[str, Any]) -> str:
    face = p["face"]
    if not face["present"]:
        return f"t={p['t']:7.2f}s  face: none"
    eyes, emo = p["eyes"], p["emotion"]
    pose = "n/a" if face["yaw"] is None else f"yaw {face['yaw']:+5.1f} pitch {face['pitch']:+5.1f} roll {face['roll']:+5.1f}"
    emotion = "n/a" if emo["dominant"] is None else f"{emo['dominant']} {emo['scores'][emo['dominant']]:.2f}"
    return (
        f"t={p['t']:7.2f}s  face: q {face['quality']:.2f}  {pose}  "
        f"EAR L {eyes['ear_left']:.3f} R {eyes['ear_right']:.3f}  MAR {p['mouth']['mar']:.3f}  emotion: {emotion}"
    )


class ConsoleSink:
    def __init__(self, stream: IO[str] = sys.stdout):
        self._stream = stream

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == "state":
            print(format_state(payload), file=self._stream, flush=True)

    def close(self) -> None:
        self._stream.flush()
