"""`dms replay`, `dms bench` and `dms demo`-style runs through the CLI, on real clips."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from edge.sources.recording import DriveWriter
from edge.types import Frame
from tests.conftest import read_frames

ROOT = Path(__file__).resolve().parents[2]
STATE_SCHEMA = json.loads((ROOT / "docs" / "schemas" / "state.json").read_text())
EVENTS_SCHEMA = json.loads((ROOT / "docs" / "schemas" / "events.json").read_text())
REPLAY_SCHEMA = json.loads((ROOT / "docs" / "schemas" / "replay.json").read_text())


def dms(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, cwd=ROOT)


def read_jsonl(path: Path, topic: str | None = "state") -> list[dict]:
    messages = [json.loads(line) for line in path.read_text().splitlines()]
    return [m for m in messages if topic is None or m["topic"] == topic]


@pytest.fixture(scope="module")
def wolfgang_jsonl(clip, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("replay") / "wolfgang.jsonl"
    return out, dms("replay", str(clip("WolfgangLanger_Pexels.mp4")), "--jsonl", str(out), "--quiet")


def test_replay_writes_valid_state_lines_at_state_hz(wolfgang_jsonl):
    out, proc = wolfgang_jsonl
    assert proc.returncode == 0, proc.stderr
    assert {m["topic"] for m in read_jsonl(out, None)} == {"state", "events", "replay"}
    # the last line is the replay's summary: the whole clip, nothing skipped
    [summary] = [m["payload"] for m in read_jsonl(out, None) if m["topic"] == "replay"]
    assert read_jsonl(out, None)[-1]["topic"] == "replay"
    jsonschema.validate(summary, REPLAY_SCHEMA)
    assert (summary["frames"], summary["face_frames"], summary["states"], summary["skipped"]) == (472, 472, 40, [])
    assert "skipped" not in proc.stderr
    messages = read_jsonl(out)
    for m in messages:
        jsonschema.validate(m["payload"], STATE_SCHEMA)
    events = read_jsonl(out, "events")
    for m in events:
        jsonschema.validate(m["payload"], EVENTS_SCHEMA)
    # the clip's first closure: a microsleep alert at 1 s of closed eyes, a sleep alert at 3 s
    starts = [(m["payload"]["kind"], m["payload"]["level"]) for m in events if m["payload"]["type"] == "start"]
    assert starts[:2] == [("microsleep", "warning"), ("sleep", "critical")]
    times = [m["payload"]["t"] for m in messages]
    # 472 frames at 23.98 fps = 19.7 s of video at 2 Hz
    assert len(times) == 40 and times[0] == 0.0
    assert all(0.45 <= b - a <= 0.55 for a, b in zip(times, times[1:]))
    assert all(m["payload"]["face"]["present"] for m in messages)
    # the summary names frames and the face-found rate
    assert "472 frames" in proc.stderr and "face found in 100.0 %" in proc.stderr


def test_replay_reports_emotion_as_a_window_over_the_drive(wolfgang_jsonl):
    out, _ = wolfgang_jsonl
    emotions = [m["payload"]["emotion"] for m in read_jsonl(out)]
    assert all(e["reason"] is None and e["dominant"] in e["scores"] for e in emotions)
    # 5 estimates per second fill the 5 s window: its count grows, then holds at 25
    assert [e["window_n"] for e in emotions[:3]] == [1, 3, 6]
    assert all(e["window_n"] == 25 for e in emotions[11:])
    for e in emotions:
        assert e["dominant"] == max(e["window_mean"], key=e["window_mean"].get)
        assert e["confidence"] == pytest.approx(e["window_mean"][e["dominant"]] * min(1.0, e["window_n"] / 25),
                                                abs=2e-4)


def test_replay_without_physiology_reports_it_off(wolfgang_jsonl):
    out, _ = wolfgang_jsonl
    payloads = [m["payload"] for m in read_jsonl(out)]
    assert all(p["physio"]["reason"] == "off" and p["physio"]["t"] is None for p in payloads)
    assert all(p["stress"] == {"score": None, "level": None, "sources": []} for p in payloads)


def test_replay_is_deterministic(clip, wolfgang_jsonl, tmp_path):
    out, _ = wolfgang_jsonl
    again = tmp_path / "again.jsonl"
    assert dms("replay", str(clip("WolfgangLanger_Pexels.mp4")), "--jsonl", str(again), "--quiet").returncode == 0
    assert again.read_text() == out.read_text()


def test_replay_without_face_publishes_absence(clip, tmp_path):
    out = tmp_path / "noface.jsonl"
    assert dms("replay", str(clip("noface_face.mov")), "--jsonl", str(out), "--quiet").returncode == 0
    payloads = [m["payload"] for m in read_jsonl(out)]
    for p in payloads:
        jsonschema.validate(p, STATE_SCHEMA)
    first = payloads[0]
    assert not first["face"]["present"] and first["eyes"]["ear_left"] is None and first["emotion"]["scores"] is None
    assert payloads[-1]["face"]["present"]


def test_replay_of_a_drive_folder_uses_its_timestamps(clip, tmp_path):
    """A drive written by DriveWriter with its own clock (t starting at 100 s, 10 fps) replays on that clock."""
    images = read_frames(clip("WolfgangLanger_Pexels.mp4"))[:60]
    drive = tmp_path / "drive"
    with DriveWriter(drive, device_id="test", fps=10.0, frame_size=(640, 360)) as writer:
        for i, image in enumerate(images):
            writer.write_frame(Frame(image, 100.0 + i * 0.1, i))
    out = tmp_path / "drive.jsonl"
    proc = dms("replay", str(drive), "--jsonl", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    times = [m["payload"]["t"] for m in read_jsonl(out)]
    assert times == pytest.approx([i * 0.5 for i in range(12)])  # 6 s of drive at 2 Hz, from the drive's zero
    assert "60 frames" in proc.stderr and "face found in 100.0 %" in proc.stderr


def test_replay_prints_state_lines_to_stdout_by_default(clip):
    proc = dms("replay", str(clip("face_noface.mov")))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("t=   0.00s  face: q") and "EAR L" in lines[0]
    assert lines[-1].endswith("face: none")


def test_a_bad_input_leaves_an_existing_output_alone(tmp_path):
    out = tmp_path / "previous.jsonl"
    out.write_text('{"topic": "state"}\n')
    proc = dms("replay", str(tmp_path / "typo.mp4"), "--jsonl", str(out))
    assert proc.returncode == 2 and out.read_text() == '{"topic": "state"}\n'


def test_replay_errors_are_usage_errors(tmp_path):
    proc = dms("replay", str(tmp_path / "nothing.mp4"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    proc = dms("replay", str(not_video))
    assert proc.returncode == 2 and "not a readable video" in proc.stderr
    proc = dms("replay", str(not_video), "--pace", "-1")
    assert proc.returncode == 2


def test_speed_is_the_deprecated_name_of_pace(clip, tmp_path):
    paced, old = tmp_path / "paced.jsonl", tmp_path / "old.jsonl"
    assert dms("replay", str(clip("face_noface.mov")), "--pace", "0", "--jsonl", str(paced), "--quiet").returncode == 0
    proc = dms("replay", str(clip("face_noface.mov")), "--speed", "0", "--jsonl", str(old), "--quiet")
    assert proc.returncode == 0 and "--speed is deprecated" in proc.stderr
    assert old.read_text() == paced.read_text()
    proc = dms("replay", str(clip("face_noface.mov")), "--speed", "1", "--pace", "1")
    assert proc.returncode == 2 and "give only --pace" in proc.stderr


def test_bench_writes_json(clip, tmp_path):
    out = tmp_path / "bench.json"
    proc = dms("bench", "--video", str(clip("face_noface.mov")), "--json", str(out), "--max-frames", "60",
               "--passes", "2", "--resolution-frames", "12", "--empty-seat-s", "5")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["frames"] == 60 and result["passes"] == 2 and result["fps"] > 0
    assert len(result["cpu_ms_per_frame_passes"]) == 2
    assert 0 < result["cpu_ms_per_frame_min"] <= result["cpu_ms_per_frame"]
    assert 0 < result["peak_rss_without_frames_mb"] < result["peak_rss_mb"]
    assert result["frames_held_mb"] == pytest.approx(60 * 960 * 540 * 3 / 2**20, abs=0.1)
    assert result["eye_ms_per_eye"] == pytest.approx(result["stages"]["eyes"]["p50_ms"] / 2, abs=1e-3)
    assert set(result["models"]) == {"face_detector", "face_landmarks", "eye_state", "emotion"}
    assert result["emotion_ms_per_face"] == result["stages"]["emotion"]["p50_ms"]
    assert all(v > 0 for row in result["models"].values() for v in row.values())
    for stage in ("vision", "preprocess", "detect", "landmarks", "geometry", "eyes", "emotion", "decode"):
        row = result["stages"][stage]
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
    assert "ms CPU per frame" in proc.stdout
    physio = result["physio"]  # the physiology stage on a synthetic sensor, with or without the stress model
    assert physio["estimates"] == 2 * 20 and physio["ecg_rate_hz"] == 250.0 and physio["window_s"] == 60.0
    assert 0 < physio["ms_per_estimate"] <= physio["ms_per_estimate_p95"] and physio["ms_per_second_fed"] > 0
    assert "physio: " in proc.stdout
    for part in ("resolutions", "resolutions_mono"):  # colour frames, and gray ones as a NIR camera gives
        assert [r["frame_size"] for r in result[part]["sizes"]] == [[640, 360], [1280, 720], [1920, 1080]]
    empty = result["empty_seat"]  # at the main run's size, against its cost
    assert empty["frame_size"] == [960, 540] and empty["tracking_cpu_ms_per_frame"] == result["cpu_ms_per_frame"]
    assert empty["passes"] == 2 and empty["detector_runs_per_s"] < empty["frames_per_s"]
    assert result["sit_down"]["latency_s"] is not None
    assert result["projection"]["note"] == "projection, not a measurement"
    for line in ("frame size, colour (BGR) frames (", "frame size, mono frames", "empty seat (",
                 "a driver sits down", "PROJECTION, NOT A MEASUREMENT"):
        assert line in proc.stdout


def test_bench_parts_can_be_skipped(clip, tmp_path):
    out = tmp_path / "bench.json"
    proc = dms("bench", "--video", str(clip("face_noface.mov")), "--json", str(out), "--max-frames", "20",
               "--passes", "1", "--no-resolutions", "--no-empty-seat", "--no-projection")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert not {"resolutions", "empty_seat", "sit_down", "projection"} & result.keys()
    assert dms("bench", "--resolution-frames", "0").returncode == 2


def test_bench_missing_video_is_a_usage_error(tmp_path):
    proc = dms("bench", "--video", str(tmp_path / "none.mp4"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
