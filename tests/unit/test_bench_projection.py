"""The boards' projection: computed from the reference table and this run's model times, marked as such."""

import math

import pytest

from edge.bench.projection import BOARDS, NOTE, REFERENCES, Reference, project

RESULT = {
    "cpu_ms_per_frame": 8.0,
    "models": {"face_detector": {"threads_1_p50_ms": 2.0}, "face_landmarks": {"threads_1_p50_ms": 4.0}},
}


def test_a_board_is_this_machine_scaled_by_its_references():
    refs = (
        Reference("Raspberry Pi 4", "face_detector", 10.0, "TFLite, 1 thread", "https://example.org/a"),
        Reference("Raspberry Pi 4", "face_landmarks", 40.0, "TFLite, 1 thread", "https://example.org/b"),
        Reference("Raspberry Pi 5", "face_landmarks", 12.0, "TFLite, 1 thread", "https://example.org/c"),
        Reference("Raspberry Pi 5", "face_detector", 1.0, "TFLite, 4 threads", "https://example.org/d", "4 threads"),
    )
    part = project(RESULT, refs)
    assert part["note"] == NOTE == "projection, not a measurement"
    pi4, pi5, orin = part["boards"]
    assert [b["board"] for b in part["boards"]] == list(BOARDS)
    factor = math.sqrt((10.0 / 2.0) * (40.0 / 4.0))  # the geometric mean of its references' ratios
    assert pi4["factor"] == pytest.approx(factor, abs=1e-3)
    assert pi4["cpu_ms_per_frame"] == pytest.approx(8.0 * factor, abs=0.01)
    assert pi4["fps_one_core"] == pytest.approx(1000.0 / (8.0 * factor), abs=0.1)
    assert pi4["models_threads_1_ms"] == pytest.approx({"face_detector": 2.0 * factor, "face_landmarks": 4.0 * factor},
                                                        abs=1e-3)
    assert pi5["factor"] == 3.0  # the 4-thread row is listed, not used
    assert [r["why_not"] for r in pi5["references"]] == [None, "4 threads"]
    assert orin["factor"] is None and "cpu_ms_per_frame" not in orin and orin["why_none"]


def test_a_reference_model_not_timed_here_is_not_used():
    refs = (Reference("Jetson Orin Nano", "iris_landmarks", 5.0, "TFLite, 1 thread", "https://example.org/e"),)
    orin = project(RESULT, refs)["boards"][2]
    assert orin["factor"] is None and "not timed" in orin["references"][0]["why_not"]


def test_every_reference_names_its_board_and_source():
    for ref in REFERENCES:
        assert ref.board in BOARDS and ref.source.startswith("https://") and ref.setting
