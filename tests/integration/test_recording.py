"""Drives written by DriveWriter and read back by open_replay; bare video files; every error case."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.skips import Skip
from edge.sources import recording
from edge.sources.recording import DriveWriter, RecordingError, open_replay, parse_started_at
from edge.types import Frame
from tests.numbered_frames import H, W, draw_number, read_number

# Irregular live times on the monotonic clock (a dropped frame leaves a gap), starting far from zero.
TIMES = [5000.0 + 0.04 * i + (0.03 if i > 20 else 0.0) for i in range(40)]


def write_drive(folder: Path, frames: int = 40, labels: list[tuple[float, float, str]] | None = None) -> Path:
    with DriveWriter(folder, "test-car", fps=25.0, frame_size=(W, H)) as writer:
        for i in range(frames):
            image = draw_number(i)
            writer.write_frame(Frame(image=image if i % 2 else image[:, :, 0].copy(), t=TIMES[i], index=i + 7))
        if labels is not None:
            writer.write_labels(labels)
    return folder


@pytest.fixture
def drive(tmp_path: Path) -> Path:
    return write_drive(tmp_path / "drive", labels=[(0.2, 0.9, "microsleep"), (1.0, 1.5, "yawn, long")])


def test_round_trip_every_frame_in_order_with_exact_times(drive: Path) -> None:
    with open_replay(drive) as replay:
        frames = list(replay)
        assert replay.frame_count == 40 and replay.fps == 25.0 and (replay.width, replay.height) == (W, H)
        assert replay.info["device"] == "test-car" and replay.info["streams"]["video"]["frames"] == 40
        assert replay.labels == [(0.2, 0.9, "microsleep"), (1.0, 1.5, "yawn, long")]
        assert replay.streams.get("audio") is None and replay.streams.get("physio") is None
        assert replay.streams.get("speed") is None
        assert replay.path == drive
    assert [f.index for f in frames] == list(range(40))  # positions in the video
    assert [read_number(f.image) for f in frames] == list(range(40))
    assert [f.t for f in frames] == [round(t - TIMES[0], 6) for t in TIMES]  # drive clock, microseconds
    assert frames[0].t == 0.0 and frames[0].image.shape == (H, W, 3)


def test_replay_can_iterate_twice(drive: Path) -> None:
    with open_replay(drive) as replay:
        assert [f.index for f in replay] == [f.index for f in replay] == list(range(40))
        assert replay.skipped() == []


def test_optional_streams_are_found_by_default_name(drive: Path) -> None:
    (drive / "audio.wav").write_bytes(b"RIFF")
    (drive / "speed.csv").write_text("t_s,speed_kmh\n0.0,80\n")
    with open_replay(drive) as replay:
        assert replay.streams["audio"] == drive / "audio.wav" and replay.streams["speed"] == drive / "speed.csv"


@pytest.mark.parametrize("name", ["WolfgangLanger_Pexels.mp4", "noface_face.mov", "face_noface.mov"])
def test_bare_video_times_start_at_zero_and_increase(clip, name: str) -> None:
    with open_replay(clip(name)) as replay:
        frames = list(replay)
        assert replay.info == {} and replay.labels == []
    expected = {"WolfgangLanger_Pexels.mp4": 472}.get(name, 169)
    assert [f.index for f in frames] == list(range(expected))
    times = np.array([f.t for f in frames])
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    assert times[-1] == pytest.approx(expected / replay.fps, rel=0.05)


def test_variable_frame_rate_video_keeps_the_container_times(clip) -> None:
    # noface_face.mov is variable-rate (its average, 26.5 fps, is no frame's period). Its video track (time scale
    # 12288/s) gives the first frame a duration of 168 ticks (13.7 ms), then 94 frames of 512 ticks (24 fps), then
    # ~410 ticks (30 fps); B-frames reorder decoding, so the presentation times (stts + ctts) are 0, 168, 680,
    # 1192, ... ticks. Replay follows these, as ffprobe's pts_time does; it does not invent 1/fps spacing.
    cap = cv2.VideoCapture(str(clip("noface_face.mov")), cv2.CAP_FFMPEG)
    container = []
    while cap.read()[0]:
        container.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
    cap.release()
    with open_replay(clip("noface_face.mov")) as replay:
        times = np.array([f.t for f in replay])
    assert times == pytest.approx(np.array(container) - container[0], abs=1e-9)
    ticks = times * 12288
    assert ticks[:4] == pytest.approx([0, 168, 680, 1192], abs=1e-6)
    assert np.diff(ticks)[1:95] == pytest.approx(np.full(94, 512), abs=1e-6)  # 24 fps
    assert np.median(np.diff(ticks)[100:]) == pytest.approx(410, abs=1)  # ~30 fps


def test_bare_video_written_here(tmp_path: Path) -> None:
    for suffix, fourcc in [("mkv", "MJPG"), ("avi", "MJPG"), ("mp4", "mp4v")]:
        path = tmp_path / f"clip.{suffix}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 20.0, (W, H))
        for i in range(15):
            writer.write(draw_number(i))
        writer.release()
        with open_replay(path) as replay:
            frames = list(replay)
        assert [read_number(f.image) for f in frames] == list(range(15)), suffix
        times = np.array([f.t for f in frames])
        assert times[0] == 0.0 and np.all(np.diff(times) > 0), suffix
        assert np.allclose(np.diff(times), 0.05, atol=0.002), suffix


def test_fewer_timestamps_than_frames_stop_at_the_last(drive: Path) -> None:
    lines = (drive / "video_ts.csv").read_text().splitlines()
    (drive / "video_ts.csv").write_text("\n".join(lines[:31]) + "\n")  # header + 30 rows
    with open_replay(drive) as replay:
        assert replay.skipped() == []  # nothing read yet
        frames = list(replay)
        skipped = replay.skipped()
    assert [read_number(f.image) for f in frames] == list(range(30))
    assert skipped == [Skip(str(drive / "video.mkv"), "untimed_frames", 10, detail="not replayed: they have no time")]


# -- errors ---------------------------------------------------------------------------------------------------


def edit_json(drive: Path, **changes: object) -> None:
    info = json.loads((drive / "drive.json").read_text())
    info.update(changes)
    (drive / "drive.json").write_text(json.dumps(info))


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="nowhere.mkv: no such file"):
        open_replay(tmp_path / "nowhere.mkv")


def test_folder_without_drive_json(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="not a drive folder"):
        open_replay(tmp_path)


def test_unreadable_video(tmp_path: Path, drive: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(RecordingError, match="junk.mp4: not a readable video"):
        open_replay(junk)
    (drive / "video.mkv").write_bytes(b"garbage")
    with pytest.raises(RecordingError, match="video.mkv: not a readable video"):
        open_replay(drive)


def test_missing_video_named_by_drive_json(drive: Path) -> None:
    (drive / "video.mkv").unlink()
    with pytest.raises(RecordingError, match=r"video.mkv: missing \(named by drive.json: streams.video\)"):
        open_replay(drive)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"format": "something-else"}, "format must be 'edge-dms-drive'"),
        ({"version": 2}, "unsupported version 2"),
        ({"started_at": "yesterday"}, "started_at must be an ISO 8601 time"),
        ({"started_at": "Z"}, "started_at must be an ISO 8601 time"),
        ({"started_at": 20250314}, "started_at must be an ISO 8601 time"),
        ({"streams": {}}, "streams.video is missing"),
        ({"streams": {"video": {"file": "../escape.mkv"}}}, "must be a file name inside the drive"),
    ],
)
def test_malformed_drive_json(drive: Path, changes: dict[str, object], message: str) -> None:
    edit_json(drive, **changes)
    with pytest.raises(RecordingError, match=message):
        open_replay(drive)


@pytest.mark.parametrize("started_at", ["2025-03-14T08:30:00.123456Z", "2025-03-14T08:30:00z",
                                        "2025-03-14T08:30:00.123456+00:00", "2025-03-14T09:30:00+01:00"])
def test_started_at_accepts_a_trailing_z(drive: Path, started_at: str) -> None:
    edit_json(drive, started_at=started_at)
    with open_replay(drive) as replay:
        assert replay.info["started_at"] == started_at
    parsed = parse_started_at(started_at)
    assert parsed.utcoffset() is not None
    assert parsed.astimezone(timezone.utc).replace(microsecond=0) == datetime(2025, 3, 14, 8, 30, tzinfo=timezone.utc)


class Py310Datetime(datetime):
    """datetime as Python 3.10 parses ISO text: no trailing "Z"."""

    @classmethod
    def fromisoformat(cls, text: str) -> datetime:
        if text.endswith(("Z", "z")):
            raise ValueError(f"Invalid isoformat string: {text!r}")
        return datetime.fromisoformat(text)


def test_started_at_with_z_on_python_310(drive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "datetime", Py310Datetime)
    edit_json(drive, started_at="2025-03-14T08:30:00Z")
    with open_replay(drive) as replay:
        assert replay.info["started_at"] == "2025-03-14T08:30:00Z"
    assert parse_started_at("2025-03-14T08:30:00Z") - datetime(2025, 3, 14, 8, 30, tzinfo=timezone.utc) == timedelta(0)


def test_drive_json_syntax_error_names_the_line(drive: Path) -> None:
    (drive / "drive.json").write_text('{\n  "format": "edge-dms-drive",\n  "version": 1,,\n}')
    with pytest.raises(RecordingError, match=r"drive.json:3: invalid JSON"):
        open_replay(drive)


@pytest.mark.parametrize(
    "rows, message",
    [
        (["frame,time\n"], r"video_ts.csv:1: header must be frame,t_s"),
        (["frame,t_s\n", "0,0.0\n", "1,abc\n"], r"video_ts.csv:3: t_s is not a number"),
        (["frame,t_s\n", "0,0.0\n", "2,0.1\n"], r"video_ts.csv:3: frame must be 1"),
        (["frame,t_s\n", "0,0.0\n", "1,0.1\n", "2,0.1\n"], r"video_ts.csv:4: t_s 0.1 does not increase"),
        (["frame,t_s\n", "0,0.0,9\n"], r"video_ts.csv:2: expected 2 columns"),
    ],
)
def test_bad_video_ts(drive: Path, rows: list[str], message: str) -> None:
    (drive / "video_ts.csv").write_text("".join(rows))
    with pytest.raises(RecordingError, match=message):
        open_replay(drive)


@pytest.mark.parametrize(
    "rows, message",
    [
        (["start,end,label\n"], r"labels.csv:1: header must be start_s,end_s,label"),
        (["start_s,end_s,label\n", "1.0,2.0,yawn\n", "x,2.0,yawn\n"], r"labels.csv:3: start_s is not a number"),
        (["start_s,end_s,label\n", "3.0,2.0,yawn\n"], r"labels.csv:2: end_s 2.0 is before start_s 3.0"),
        (["start_s,end_s,label\n", "1.0,2.0\n"], r"labels.csv:2: expected 3 columns"),
        (["start_s,end_s,label\n", "1.0,2.0, \n"], r"labels.csv:2: empty label"),
    ],
)
def test_bad_labels(drive: Path, rows: list[str], message: str) -> None:
    (drive / "labels.csv").write_text("".join(rows))
    with pytest.raises(RecordingError, match=message):
        open_replay(drive)


def test_writer_refuses_what_it_could_not_replay(tmp_path: Path, drive: Path) -> None:
    with pytest.raises(RecordingError, match="already holds a drive"):
        DriveWriter(drive, "test-car", 25.0, (W, H))
    with DriveWriter(tmp_path / "new", "test-car", 25.0, (W, H)) as writer:
        writer.write_frame(Frame(image=draw_number(0), t=1.0, index=0))
        with pytest.raises(RecordingError, match="expected 128x32"):
            writer.write_frame(Frame(image=np.zeros((10, 10, 3), np.uint8), t=2.0, index=1))
        with pytest.raises(RecordingError, match="does not increase"):
            writer.write_frame(Frame(image=draw_number(1), t=1.0, index=1))
    with open_replay(tmp_path / "new") as replay:
        assert [f.t for f in replay] == [0.0]
