"""The live camera on real video files made at test time: frame numbers are drawn into the pixels."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import CameraConfig
from edge.sources.camera import CameraError, LiveCamera, SourceSpec, gstreamer_available, open_capture, parse_source

W, H, BITS, CELL = 128, 32, 8, 16


def draw_number(n: int) -> np.ndarray:
    """A frame whose top row of 16 px cells spells n in binary (white = 1): robust to JPEG."""
    image = np.zeros((H, W, 3), np.uint8)
    for bit in range(BITS):
        if n >> bit & 1:
            image[:CELL, bit * CELL : (bit + 1) * CELL] = 255
    return image


def read_number(image: np.ndarray) -> int:
    gray = image if image.ndim == 2 else image.mean(axis=2)
    return sum(1 << bit for bit in range(BITS) if gray[4:12, bit * CELL + 4 : bit * CELL + 12].mean() > 128)


def make_video(path: Path, frames: int, fps: float) -> Path:
    # Written under another name and renamed, so a watcher never sees half a file.
    tmp = path.with_name("tmp-" + path.name)
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(draw_number(i))
    writer.release()
    tmp.rename(path)
    return path


def fast_cfg(source: Path | str, **kw: float) -> CameraConfig:
    return CameraConfig(source=str(source), reopen_initial_s=0.05, reopen_max_s=0.2, frame_timeout_s=1.0, **kw)


def wait_until(predicate, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.avi", frames=20, fps=100.0)


# -- parse_source / open_capture ------------------------------------------------------------------------------


def test_parse_source_kinds(clip: Path) -> None:
    assert parse_source("0") == SourceSpec("v4l2", 0)
    assert parse_source(" 2 ") == SourceSpec("v4l2", 2)
    assert parse_source("/dev/video1") == SourceSpec("v4l2", "/dev/video1")
    by_id = "/dev/v4l/by-id/usb-cam-video-index0"
    assert parse_source(by_id) == SourceSpec("v4l2", by_id)
    assert parse_source("gst:libcamerasrc ! appsink") == SourceSpec("gstreamer", "libcamerasrc ! appsink")
    assert parse_source(str(clip)) == SourceSpec("file", str(clip))
    assert parse_source("rtsp://cam.local/stream") == SourceSpec("file", "rtsp://cam.local/stream")


@pytest.mark.parametrize("spec, message", [("", "empty"), ("   ", "empty"), ("gst:", "empty GStreamer"),
                                           ("no/such/clip.mp4", "no such video file")])
def test_parse_source_errors(spec: str, message: str) -> None:
    with pytest.raises(CameraError, match=message):
        parse_source(spec)


def test_open_capture_errors_name_the_source(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    with pytest.raises(CameraError, match="junk.mp4"):
        open_capture(str(junk), CameraConfig())
    with pytest.raises(CameraError, match="V4L2 device 63"):
        open_capture("63", CameraConfig())
    if not gstreamer_available():
        with pytest.raises(CameraError, match="no GStreamer support"):
            open_capture("gst:videotestsrc ! appsink", CameraConfig())


def test_open_capture_file(clip: Path) -> None:
    cap = open_capture(str(clip), CameraConfig())
    ok, image = cap.read()
    cap.release()
    assert ok and read_number(image) == 0


# -- LiveCamera -------------------------------------------------------------------------------------------------


def test_frames_in_order_with_increasing_indices_and_file_loops(clip: Path) -> None:
    ticks = itertools.count(1000)
    with LiveCamera(fast_cfg(clip), clock=lambda: float(next(ticks))) as cam:
        seen: list[tuple[int, float, int]] = []
        last = -1
        while last < 30:  # past the 20-frame file's end: it loops
            frame = cam.latest(after_index=last, timeout=2.0)
            assert frame is not None
            seen.append((frame.index, frame.t, read_number(frame.image)))
            last = frame.index
    indices = [s[0] for s in seen]
    assert indices == sorted(set(indices))
    assert all(t >= 1000 for _, t, _ in seen)  # stamped by the injected clock
    assert [s[1] for s in seen] == sorted({s[1] for s in seen})
    assert all(number == index % 20 for index, _, number in seen)  # each index is the file's frame, looped
    assert cam.health().reopens == 0 and cam.health().errors == 0 and cam.health().last_error is None


def test_slow_consumer_gets_the_newest_frame_and_drops_are_counted(clip: Path) -> None:
    with LiveCamera(fast_cfg(clip)) as cam:
        first = cam.latest(timeout=2.0)
        assert first is not None
        assert wait_until(lambda: cam.health().frames > first.index + 3)  # the consumer is "busy" meanwhile
        captured_before = cam.health().frames
        newest = cam.latest(after_index=first.index, timeout=2.0)
        assert newest is not None
        assert newest.index >= captured_before - 1  # nothing older than what was already captured
        assert read_number(newest.image) == newest.index % 20
        health = cam.health()
        assert health.dropped >= newest.index - first.index - 1 >= 2
        assert health.state == "ok" and health.last_frame_age_s is not None
        assert cam.latest(after_index=10**9, timeout=0.05) is None  # nothing newer: times out


def test_reopens_with_backoff_until_the_source_appears(tmp_path: Path) -> None:
    path = tmp_path / "later.avi"
    with LiveCamera(fast_cfg(path)) as cam:
        assert wait_until(lambda: cam.health().errors >= 3)  # it keeps retrying
        health = cam.health()
        assert health.state == "unavailable"
        assert health.last_error is not None and "no such video file" in health.last_error
        assert health.last_frame_age_s is None and health.frames == 0
        assert cam.latest(timeout=0.05) is None
        make_video(path, frames=20, fps=100.0)
        frame = cam.latest(timeout=3.0)
        assert frame is not None and read_number(frame.image) == frame.index % 20
        assert wait_until(lambda: cam.health().state == "ok")
        assert cam.health().reopens >= 3


def test_unreadable_source_is_unavailable_not_fatal(tmp_path: Path) -> None:
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"\0" * 1000)
    with LiveCamera(fast_cfg(junk)) as cam:
        assert wait_until(lambda: cam.health().errors >= 2)
        assert cam.health().state == "unavailable"
        assert "could not be opened" in (cam.health().last_error or "")


def test_stop_joins_the_thread_and_wakes_the_consumer(clip: Path) -> None:
    cam = LiveCamera(fast_cfg(clip)).start()
    assert cam.health().state in ("starting", "ok")
    assert cam.latest(timeout=2.0) is not None
    result: list[object] = []
    waiter = threading.Thread(target=lambda: result.append(cam.latest(after_index=10**9, timeout=30.0)))
    waiter.start()
    cam.stop()
    waiter.join(timeout=2.0)
    assert not waiter.is_alive() and result == [None]
    assert not any(t.name == "camera" for t in threading.enumerate())
    assert cam.health().state == "stopped"
