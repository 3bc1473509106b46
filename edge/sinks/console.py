"""A human-readable line per state message, for `dms demo` and a terminal watching `dms replay`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, Any

from edge.modalities import REGISTERED
from edge.modalities.base import ModalityKind
from edge.names import STATE


def format_state(p: dict[str, Any], kinds: Sequence[ModalityKind] = REGISTERED) -> str:
    """One line: the face, eyes, drowsiness and emotion, then each modality's own part (ModalityKind.console)."""
    face = p["face"]
    sensed = "".join(kind.console(p.get(kind.name)) for kind in kinds)
    if not face["present"]:
        return f"t={p['t']:7.2f}s  face: none{sensed}"
    eyes, emo, drowsy = p["eyes"], p["emotion"], p["drowsiness"]
    pose = "n/a"
    if face["yaw"] is not None:
        pose = f"yaw {face['yaw']:+5.1f} pitch {face['pitch']:+5.1f} roll {face['roll']:+5.1f}"
    emotion = emo["dominant"] if emo["confidence"] is None else f"{emo['dominant']} {emo['confidence']:.2f}"
    closed = "not visible" if eyes["closed_prob"] is None else f"closed {eyes['closed_prob']:.2f}"
    if eyes["closed_s"] > 0:
        closed += f" for {eyes['closed_s']:.1f} s"
    perclos = "" if eyes["perclos"] is None else f" PERCLOS {eyes['perclos']:.2f}"
    kss = "" if drowsy["kss"] is None else f" KSS {drowsy['kss']:.1f}"
    episodes = f"blinks {drowsy['blinks']}"
    for key in ("long_blinks", "microsleeps", "sleeps", "yawns", "nods"):
        if drowsy[key]:
            episodes += f" {key.replace('_', ' ')} {drowsy[key]}"
    return (
        f"t={p['t']:7.2f}s  face: q {face['quality']:.2f}  {pose}  "
        f"eyes: {closed} EAR L {eyes['ear_left']:.3f} R {eyes['ear_right']:.3f}{perclos}  MAR {p['mouth']['mar']:.3f}  "
        f"{drowsy['level']}{kss} {episodes}  emotion: {emotion}{sensed}"
    )


class ConsoleSink:
    def __init__(self, stream: IO[str] = sys.stdout, kinds: Sequence[ModalityKind] = REGISTERED):
        self._stream = stream
        self._kinds = tuple(kinds)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == STATE:
            print(format_state(payload, self._kinds), file=self._stream, flush=True)

    def close(self) -> None:
        self._stream.flush()
