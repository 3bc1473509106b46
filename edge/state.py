"""The `state` payload (docs/schemas/state.json) built from the latest observation, at `state_hz` on the pipeline
clock. Each modality writes its own section (ModalityKind.section), after the emotion and before the fused stress.

Pure: no clock, no I/O. The same payloads go to MQTT, to JSON lines and to the console, so a replay's JSON
lines show exactly what the daemon would publish.
"""

from __future__ import annotations

from typing import Any

from edge.monitor.driver import DriverState
from edge.names import SCHEMA_VERSION
from edge.rounding import rounded, rounded_scores


def state_payload(state: DriverState) -> dict[str, Any]:
    obs, eyes, drowsy, dist, fusion = state.obs, state.eyes, state.drowsiness, state.distraction, state.fusion
    pose = obs.pose
    emotion = state.emotion
    payload = {
        "v": SCHEMA_VERSION,
        "t": round(obs.t, 3),
        "frame": obs.frame_index,
        "face": {
            "present": obs.present,
            "quality": rounded(obs.quality),
            "tracked": obs.tracked,
            "detector_score": rounded(obs.detector_score),
            "landmark_score": rounded(obs.landmark_score),
            "size_px": rounded(obs.face_size_px, 1),
            "yaw": rounded(pose.yaw, 2) if pose else None,
            "pitch": rounded(pose.pitch, 2) if pose else None,
            "roll": rounded(pose.roll, 2) if pose else None,
        },
        "eyes": {
            "visible": eyes.visible,
            "reason": eyes.reason,
            "left": eyes.status_left,
            "right": eyes.status_right,
            "closed_prob": rounded(eyes.closed_prob),
            "closed_left": rounded(eyes.closed_left),
            "closed_right": rounded(eyes.closed_right),
            "closed_s": round(drowsy.closure_s, 3),
            "perclos": rounded(drowsy.perclos),
            "blink_rate_per_min": rounded(drowsy.blink_rate_per_min, 1),
            "ear_left": rounded(obs.ear_left),
            "ear_right": rounded(obs.ear_right),
        },
        "mouth": {"mar": rounded(obs.mar)},
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
            "yaw_offset": rounded(dist.yaw_offset, 2),
            "pitch_offset": rounded(dist.pitch_offset, 2),
            "calibration": {
                "status": dist.calibration.status,
                "progress": round(dist.calibration.progress, 3),
                "road_yaw": round(dist.calibration.yaw, 2),
                "road_pitch": round(dist.calibration.pitch, 2),
                "mount_rejected": dist.calibration.mount_rejected,
            },
        },
        "fusion": {
            "arousal": rounded(fusion.arousal),
            "stress": rounded(fusion.stress),
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
            "scores": rounded_scores(emotion.scores),
            "t": rounded(emotion.t, 3),
            "dominant": emotion.dominant,
            "confidence": rounded(emotion.confidence),
            "window_s": emotion.window_s,
            "window_mean": rounded_scores(emotion.window_mean),
            "window_distribution": rounded_scores(emotion.window_distribution),
            "window_n": emotion.window_n,
            "reason": emotion.reason,
        },
    }
    for reading in state.modalities:
        payload[reading.kind.name] = reading.kind.section(reading.estimate)
    payload["stress"] = {
        "score": rounded(fusion.stress),
        "level": state.stress_level,
        "sources": list(fusion.stress_sources),
    }
    return payload
