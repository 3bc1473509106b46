"""A human-readable line per state message, for `dms demo` and a terminal watching `dms replay`."""

from __future__ import annotations

import sys
from typing import IO, Any


def format_voice(voice: dict[str, Any] | None) -> str:
    """"" with audio off; else the dominant vocal emotion and arousal, or why the voice is unknown."""
    if voice is None or voice["reason"] == "off":
        return ""
    if voice["arousal"] is None:
        return f"  voice: {voice['reason'].replace('_', ' ')}"
    return f"  voice: {voice['dominant']}, arousal {voice['arousal_level']} {voice['arousal']:.2f}"


def format_physio(physio: dict[str, Any] | None) -> str:
    """"" without a physiology source; else heart rate, skin conductance and stress, or why they are unknown."""
    if physio is None or physio["reason"] == "off":
        return ""
    parts = []
    if physio["hr_bpm"] is not None:
        parts.append(f"HR {physio['hr_bpm']:.0f} bpm")
    if physio["scl"] is not None:
        parts.append(f"SCL {physio['scl']:.2f}")
    if physio["stress"] is not None:
        parts.append(f"stress {physio['stress_level']} {physio['stress']['high']:.2f}")
    elif physio["reason"] == "baseline" and physio["baseline_remaining_s"] is not None:
        parts.append(f"baseline {physio['baseline_remaining_s']:.0f} s to go")
    else:
        parts.append(physio["reason"].replace("_", " "))
    return "  physio: " + ", ".join(parts)


def format_state(p: dict[str, Any]) -> str:
    face = p["face"]
    sensed = format_voice(p.get("voice")) + format_physio(p.get("physio"))
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
    def __init__(self, stream: IO[str] = sys.stdout):
        self._stream = stream

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == "state":
            print(format_state(payload), file=self._stream, flush=True)

    def close(self) -> None:
        self._stream.flush()
