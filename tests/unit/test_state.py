import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from edge.config import Config
from edge.monitor.driver import DriverMonitor
from edge.monitor.emotion import UNKNOWN
from edge.rate import RateGate
from edge.state import state_payload
from edge.types import (
    EMOTION_LABELS,
    EmotionEstimate,
    EyeCropState,
    FaceObservation,
    HeadPose,
    PhysioEstimate,
    VoiceEstimate,
)

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "schemas" / "state.json").read_text())


def _times_passed(hz: float, fps: float, seconds: float) -> list[float]:
    gate = RateGate(hz)
    return [t for t in np.arange(0.0, seconds, 1.0 / fps) if gate.due(float(t))]


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0, 26.4])
def test_rate_gate_keeps_the_rate_on_any_camera(fps):
    passed = _times_passed(2.0, fps, 60.0)
    assert len(passed) == 120  # 2 Hz for 60 s, whatever the frame period
    gaps = np.diff(passed)
    assert gaps.max() < 0.5 + 1.0 / fps


def test_rate_gate_never_passes_two_events_a_frame_apart():
    gate = RateGate(2.0)
    passed = [t for t in (0.0, 0.5, 1.5, 1.533, 1.9, 2.0) if gate.due(t)]
    assert passed == [0.0, 0.5, 1.5, 2.0]


def test_rate_gate_restarts_after_a_gap_instead_of_bursting():
    gate = RateGate(2.0)
    assert gate.due(0.0) and not gate.due(0.3) and gate.due(0.5)
    assert gate.due(10.0)  # the camera was down for 9.5 s
    assert not gate.due(10.1) and not gate.due(10.4) and gate.due(10.5)


def test_payload_of_a_present_face_matches_the_schema():
    obs = FaceObservation(
        t=1.23456, frame_index=30, present=True, quality=0.9, tracked=True, detector_score=0.95,
        landmark_score=0.99, face_size_px=180.0, pose=HeadPose(10.123, -5.0, 2.0), ear_left=0.3, ear_right=0.28,
        mar=0.05, emotion=EmotionEstimate({"anger": 0.1, "disgust": 0.0, "fear": 0.0, "happiness": 0.6, "sadness": 0.1,
                                           "surprise": 0.0, "neutral": 0.2, "contempt": 0.0}, 1.2),
        eye_states=(EyeCropState(0.1, 30.0, 0.0), EyeCropState(0.2, 2.0, 0.0)),  # the right eye is too flat
    )
    p = state_payload(DriverMonitor(Config(), "test").step(obs))
    jsonschema.validate(p, SCHEMA)
    assert p["t"] == 1.235 and p["face"]["yaw"] == 10.12
    emotion = p["emotion"]
    assert emotion["dominant"] == "happiness" and emotion["scores"]["happiness"] == 0.6 and emotion["reason"] is None
    assert emotion["window_mean"] == emotion["scores"] and emotion["window_distribution"]["happiness"] == 1.0
    assert emotion["window_n"] == 1 and emotion["window_s"] == 5.0
    assert emotion["confidence"] == pytest.approx(0.6 / 25, abs=1e-4)  # one estimate of the 25 a window holds
    assert p["eyes"]["visible"] and p["eyes"]["closed_right"] is None and p["eyes"]["closed_left"] < 0.5
    assert p["eyes"]["closed_prob"] == p["eyes"]["closed_left"]
    assert p["eyes"]["reason"] is None and p["eyes"]["left"] == "open" and p["eyes"]["right"] == "occluded"
    assert p["drowsiness"]["level"] == "unknown" and p["drowsiness"]["blinks"] == 0
    json.dumps(p)  # plain JSON types only


def test_the_schema_names_every_emotion_class():
    emotion = SCHEMA["properties"]["emotion"]["properties"]
    for key in ("scores", "window_mean", "window_distribution"):
        assert tuple(emotion[key]["required"]) == EMOTION_LABELS
    assert emotion["dominant"]["enum"] == [*EMOTION_LABELS, UNKNOWN]


def test_payload_of_an_absent_face_matches_the_schema():
    p = state_payload(DriverMonitor(Config(), "test").step(FaceObservation.absent(2.0, 48)))
    jsonschema.validate(p, SCHEMA)
    assert p["face"]["present"] is False and p["eyes"]["ear_left"] is None and p["emotion"]["scores"] is None
    assert p["emotion"]["dominant"] == "unknown" and p["emotion"]["reason"] == "no_face"
    assert p["eyes"]["visible"] is False and p["eyes"]["closed_prob"] is None
    assert p["eyes"]["reason"] == "unseen" and p["eyes"]["left"] == p["eyes"]["right"] == "unseen"


def test_payload_says_the_eyes_are_behind_dark_lenses():
    monitor = DriverMonitor(Config(), "test")
    lens = EyeCropState(0.5, 25.0, 0.0, surround=0.35)
    for i in range(30):
        obs = FaceObservation(t=i / 30, frame_index=i, present=True, quality=0.9, pose=HeadPose(0.0, 0.0, 0.0),
                              ear_left=0.25, ear_right=0.25, mar=0.05, eye_states=(lens, lens))
        p = state_payload(monitor.step(obs))
    jsonschema.validate(p, SCHEMA)
    eyes = p["eyes"]
    assert eyes["visible"] is False and eyes["reason"] == "dark_lenses" and eyes["closed_prob"] is None
    assert eyes["left"] == eyes["right"] == "dark_lenses" and eyes["closed_s"] == 0


def test_voice_is_off_without_audio_and_reported_with_it():
    monitor = DriverMonitor(Config(), "test")
    p = state_payload(monitor.step(FaceObservation.absent(1.0, 30)))
    jsonschema.validate(p, SCHEMA)
    assert p["voice"]["reason"] == "off" and p["voice"]["t"] is None and p["voice"]["dominant"] == "unknown"
    assert "voice" not in p["fusion"]["sources"]

    emotions = {"neutral": 0.1, "happy": 0.1, "sad": 0.1, "angry": 0.7}
    heard = VoiceEstimate(2.0, 0.7, 24.0, 0.9, arousal=0.8, emotions=emotions, normalisation="population")
    p = state_payload(monitor.step(FaceObservation.absent(2.1, 33), estimates={"voice": heard}))
    jsonschema.validate(p, SCHEMA)
    voice = p["voice"]
    assert voice["dominant"] == "angry" and voice["arousal_level"] == "high" and voice["reason"] is None
    assert voice["t"] == 2.0 and voice["normalisation"] == "population"
    assert p["fusion"]["sources"] == ["voice"] and p["fusion"]["arousal"] == 0.8
    assert p["fusion"]["stress"] == pytest.approx(0.8 * 0.9, abs=1e-4)  # arousal that joy does not explain

    # A silent stretch: the payload says so at once, while fusion keeps the last vocal arousal until it is stale.
    silent = VoiceEstimate.unknown(3.0, "no_speech", 0.05)
    p = state_payload(monitor.step(FaceObservation.absent(3.1, 36), estimates={"voice": silent}))
    jsonschema.validate(p, SCHEMA)
    assert p["voice"]["reason"] == "no_speech" and p["voice"]["arousal"] is None and p["voice"]["quality"] == 0.0
    assert p["fusion"]["sources"] == ["voice"]
    late = 2.0 + Config().fusion.voice_max_age_s + 0.5
    p = state_payload(monitor.step(FaceObservation.absent(late, 400)))
    assert p["fusion"]["sources"] == [] and p["fusion"]["stale"] == ["voice"]


def test_physio_and_stress_in_the_payload():
    p = state_payload(DriverMonitor(Config(), "test").step(FaceObservation.absent(1.0, 30)))
    jsonschema.validate(p, SCHEMA)
    assert p["physio"]["reason"] == "off" and p["physio"]["t"] is None and p["physio"]["stress_level"] == "unknown"
    assert p["stress"] == {"score": None, "level": None, "sources": []}

    monitor = DriverMonitor(Config(), "test", present={"physio"})
    p = state_payload(monitor.step(FaceObservation.absent(1.0, 30)))
    jsonschema.validate(p, SCHEMA)
    assert p["physio"]["reason"] == "no_sensor" and p["physio"]["hr_bpm"] is None and p["physio"]["stress"] is None

    learning = PhysioEstimate(5.0, 72.123, 41.0, 52.0, 0.21, 0.93, 5.12345, 3.0, 0.0, eda_flags=("flat",),
                              baseline_remaining_s=120.04, reason="baseline")
    p = state_payload(monitor.step(FaceObservation.absent(5.1, 33), estimates={"physio": learning}))
    jsonschema.validate(p, SCHEMA)
    physio = p["physio"]
    assert physio["hr_bpm"] == 72.12 and physio["scl"] == 5.1235 and physio["eda_flags"] == ["flat"]
    assert physio["ecg_quality"] == 0.93 and physio["eda_quality"] == 0.0 and physio["quality"] == 0.93
    assert physio["reason"] == "baseline" and physio["baseline_remaining_s"] == 120.0 and physio["stress"] is None
    assert p["stress"]["score"] is None  # a window the model did not classify does not vote

    stressed = PhysioEstimate(10.0, 95.0, 20.0, 30.0, 0.05, 0.9, 7.0, 9.0, 0.95, stress={"low": 0.1, "medium": 0.2,
                              "high": 0.7}, baseline_remaining_s=0.0)
    p = state_payload(monitor.step(FaceObservation.absent(10.1, 36), estimates={"physio": stressed}))
    jsonschema.validate(p, SCHEMA)
    assert p["physio"]["stress_level"] == "high" and p["physio"]["stress"]["high"] == 0.7
    assert p["stress"] == {"score": 0.7, "level": "high", "sources": ["physio"]}
    assert p["fusion"]["stress"] == p["stress"]["score"] and p["fusion"]["sources"] == ["physio"]

    # the voice proxy fuses with it, each weighted by its quality
    heard = VoiceEstimate(10.2, 0.7, 24.0, 0.5, arousal=0.5, emotions={"neutral": 1.0, "happy": 0.0, "sad": 0.0,
                          "angry": 0.0}, normalisation="speaker")
    p = state_payload(monitor.step(FaceObservation.absent(10.2, 37), estimates={"voice": heard}))
    jsonschema.validate(p, SCHEMA)
    assert p["stress"]["sources"] == ["voice", "physio"] and p["stress"]["level"] == "medium"
