"""The `state` payload (schema version 1) built from the latest observation, at `state_hz` on the pipeline clock.

Pure: no clock, no I/O. The same payloads go to MQTT, to JSON lines and to the console, so a replay's JSON
lines show exactly what the daemon would publish.
"""

from __future__ import annotations

from typing import Any

from edge.monitor.driver import DriverState

SCHEMA_VERSION = 1


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def _rounded(scores: dict[str, float] | None) -> dict[str, float] | None:
    return None if scores is None else {k: round(v, 4) for k, v in scores.items()}


def state_payload(state: DriverState) -> dict[str, Any]:
    obs, eyes, drowsy, dist, fusion = state.obs, state.eyes, state.drowsiness, state.distraction, state.fusion
    pose = obs.pose
    emotion, voice, physio = state.emotion, state.voice, state.physio
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
        "eyes": {
            "visible": eyes.visible,
            "closed_prob": _r(eyes.closed_prob),
            "closed_left": _r(eyes.closed_left),
            "closed_right": _r(eyes.closed_right),
            "closed_s": round(drowsy.closure_s, 3),
            "perclos": _r(drowsy.perclos),
            "blink_rate_per_min": _r(drowsy.blink_rate_per_min, 1),
            "ear_left": _r(obs.ear_left),
            "ear_right": _r(obs.ear_right),
        },
        "mouth": {"mar": _r(obs.mar)},
        "drowsiness": {
            "kss": drowsy.kss,
            "level": drowsy.level,
            "blinks": drowsy.blinks,
            "long_blinks": drowsy.long_blinks,
            "microsleeps": drowsy.microsleeps,
            "sleeps": drowsy.sleeps,
            "yawns": drowsy.yawns,
            "nods": drowsy.nods,
        },
        "distraction": {
            "on_road": dist.on_road,
            "off_road_s": round(dist.off_road_s, 3),
            "vats_off_road_s": round(dist.vats_off_road_s, 3),
            "yaw_offset": _r(dist.yaw_offset, 2),
            "pitch_offset": _r(dist.pitch_offset, 2),
            "neutral_learned": dist.neutral_learned,
        },
        "fusion": {
            "arousal": _r(fusion.arousal),
            "stress": _r(fusion.stress),
            "sources": list(fusion.sources),
            "stale": list(fusion.stale),
            "missing": list(fusion.missing),
        },
        "alerts": [
            {"id": a.id, "kind": a.kind, "level": a.level, "started_at": round(a.started_at, 3),
             "acknowledged": a.acknowledged}
            for a in state.alerts
        ],
        "emotion": {
            "scores": _rounded(emotion.scores),
            "t": _r(emotion.t, 3),
            "dominant": emotion.dominant,
            "confidence": _r(emotion.confidence),
            "window_s": emotion.window_s,
            "window_mean": _rounded(emotion.window_mean),
            "window_distribution": _rounded(emotion.window_distribution),
            "window_n": emotion.window_n,
            "reason": emotion.reason,
        },
        "voice": {
            "t": _r(voice.t, 3) if voice.reason != "off" else None,
            "speech_fraction": round(voice.speech_fraction, 4),
            "snr_db": _r(voice.snr_db, 2),
            "quality": round(voice.quality, 4),
            "arousal": _r(voice.arousal),
            "arousal_level": None if voice.arousal is None else ("high" if voice.arousal >= 0.5 else "low"),
            "emotions": _rounded(voice.emotions),
            "dominant": voice.dominant,
            "normalisation": voice.normalisation,
            "reason": voice.reason,
        },
        "physio": {
            "t": _r(physio.t, 3) if physio.reason != "off" else None,
            "hr_bpm": _r(physio.hr_bpm, 2),
            "rmssd_ms": _r(physio.rmssd_ms, 2),
            "sdnn_ms": _r(physio.sdnn_ms, 2),
            "pnn50": _r(physio.pnn50),
            "ecg_quality": round(physio.ecg_quality, 4),
            "scl": _r(physio.scl),
            "scr_rate_per_min": _r(physio.scr_rate_per_min, 2),
            "eda_quality": round(physio.eda_quality, 4),
            "eda_flags": list(physio.eda_flags),
            "quality": round(physio.quality, 4),
            "stress_level": physio.stress_level,
            "stress": _rounded(physio.stress),
            "baseline_remaining_s": _r(physio.baseline_remaining_s, 1),
            "reason": physio.reason,
        },
        "stress": {
            "score": _r(fusion.stress),
            "level": state.stress_level,
            "sources": list(fusion.stress_sources),
        },
    }
