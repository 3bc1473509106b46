"""The live camera on real video files made at test time: frame numbers are drawn into the pixels."""

from __future__ import annotations

import functools
import itertools
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import CameraConfig
from edge.sources import camera
from edge.sources.camera import CameraError, LiveCamera, SourceSpec, gstreamer_available, open_capture, parse_source
from tests import polling
from tests.numbered_frames import H, W, draw_number, read_number

wait_until = functools.partial(polling.wait_until, timeout=3.0)


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
    return CameraConfig(**{"source": str(source), "reopen_initial_s": 0.05, "reopen_max_s": 0.2,
                           "frame_timeout_s": 1.0, **kw})


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
        assert wait_until(lambda: cam.health().metrics["frames"] > first.index + 3)  # the consumer is "busy" meanwhile
        captured_before = cam.health().metrics["frames"]
        newest = cam.latest(after_index=first.index, timeout=2.0)
        assert newest is not None
        assert newest.index >= captured_before - 1  # nothing older than what was already captured
        assert read_number(newest.image) == newest.index % 20
        health = cam.health()
        assert health.metrics["dropped"] >= newest.index - first.index - 1 >= 2
        assert health.state == "ok" and health.metrics["last_frame_age_s"] is not None
        assert cam.latest(after_index=10**9, timeout=0.05) is None  # nothing newer: times out


def test_reopens_with_backoff_until_the_source_appears(tmp_path: Path) -> None:
    path = tmp_path / "later.avi"
    with LiveCamera(fast_cfg(path)) as cam:
        assert wait_until(lambda: cam.health().errors >= 3)  # it keeps retrying
        health = cam.health()
        assert health.state == "unavailable"
        assert health.last_error is not None and "no such video file" in health.last_error
        assert health.detail == health.last_error  # what health publishes
        assert health.metrics["last_frame_age_s"] is None and health.metrics["frames"] == 0
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


# -- a stalling or failing device -------------------------------------------------------------------------------
# A real V4L2 device cannot exist here, so these tests put a scripted capture behind open_capture: the same
# interface a cv2.VideoCapture offers the thread (read/release/get/isOpened). Waits use events, not timings.

V4L_ENV = "OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT"


class ScriptedCapture:
    """Numbered frames at ~100 fps; `on_read(capture, n)` runs before the n-th read (from 1) and may block or raise."""

    def __init__(self, opening: int, on_read) -> None:
        self.opening = opening
        self.on_read = on_read
        self.reads = 0
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 - cv2.VideoCapture's name
        return not self.released

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        self.released = True

    def read(self) -> tuple[bool, np.ndarray]:
        self.reads += 1
        self.on_read(self, self.reads)
        time.sleep(0.01)
        return True, draw_number(self.reads % 200)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch):
    """scripted(on_read) -> the list of captures opened so far, with open_capture patched to make them."""
    monkeypatch.setenv(V4L_ENV, "unset")
    monkeypatch.delenv(V4L_ENV)  # start() sets it for a V4L2 source; restored after the test

    def install(on_read) -> list[ScriptedCapture]:
        opened: list[ScriptedCapture] = []

        def fake_open(spec: SourceSpec, cfg: CameraConfig) -> ScriptedCapture:
            assert spec == parse_source(cfg.source)
            cap = ScriptedCapture(len(opened), on_read)
            opened.append(cap)
            return cap

        monkeypatch.setattr(camera, "open_capture", fake_open)
        return opened

    return install


def test_stalled_device_is_unavailable_then_reopened_and_frames_flow_again(scripted) -> None:
    resume = threading.Event()

    def on_read(cap: ScriptedCapture, n: int) -> None:
        if cap.opening == 0 and n == 6:
            assert resume.wait(30.0)  # the driver stops delivering: this read blocks until the test resumes it

    opened = scripted(on_read)
    with LiveCamera(fast_cfg("/dev/video0", frame_timeout_s=0.3)) as cam:
        before = cam.latest(timeout=3.0)
        assert before is not None
        assert wait_until(lambda: cam.health().state == "unavailable")  # frames stopped for > frame_timeout_s
        stalled = cam.health()
        assert stalled.errors == 0 and stalled.reopens == 0 and len(opened) == 1  # the read is still blocked
        age = stalled.metrics["last_frame_age_s"]
        assert age is not None and age > 0.3
        last_before = cam.latest(timeout=0.0)
        assert last_before is not None and last_before.index == 4  # 5 frames were read before the stall
        resume.set()  # the late frame comes back, too late: the thread drops it, releases and reopens the device
        after = cam.latest(after_index=last_before.index, timeout=3.0)
        assert after is not None
        assert wait_until(lambda: cam.health().state == "ok")
        health = cam.health()
    assert len(opened) >= 2 and opened[0].released
    assert read_number(after.image) == after.index - 4  # from the reopened device (its reads count from 1 again)
    assert health.errors >= 1 and health.reopens >= 1
    assert health.last_error is not None and "no frame for" in health.last_error


def test_read_that_raises_is_counted_and_the_device_reopened(scripted) -> None:
    def on_read(cap: ScriptedCapture, n: int) -> None:
        if cap.opening == 0 and n == 3:
            raise RuntimeError("driver fell over")

    opened = scripted(on_read)
    with LiveCamera(fast_cfg("/dev/video0")) as cam:
        assert wait_until(lambda: len(opened) >= 2 and cam.health().metrics["frames"] >= 4)
        health = cam.health()
        assert health.state == "ok" and health.errors == 1 and health.reopens == 1
        assert health.last_error == "camera source '/dev/video0': RuntimeError: driver fell over"
        assert opened[0].released
        assert any(t.name == "camera" for t in threading.enumerate())  # the thread survived


def test_v4l2_select_timeout_is_set_by_start_not_by_the_capture_thread(scripted) -> None:
    seen_by_thread: list[str | None] = []

    def on_read(cap: ScriptedCapture, n: int) -> None:
        seen_by_thread.append(os.environ.get(V4L_ENV))

    scripted(on_read)
    cam = LiveCamera(fast_cfg("/dev/video0", frame_timeout_s=2.5))
    assert V4L_ENV not in os.environ
    cam.start()
    assert os.environ.get(V4L_ENV) == "3"  # set on this thread, before the capture thread could open anything
    assert cam.latest(timeout=3.0) is not None
    cam.stop()
    assert seen_by_thread and set(seen_by_thread) == {"3"}


def test_file_source_leaves_the_v4l2_timeout_alone(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(V4L_ENV, "unset")
    monkeypatch.delenv(V4L_ENV)
    with LiveCamera(fast_cfg(clip)) as cam:
        assert cam.latest(timeout=2.0) is not None
    assert V4L_ENV not in os.environ


@pytest.mark.parametrize("huge", [1e300, float("inf"), float("nan")])
def test_absurd_times_do_not_kill_the_thread(tmp_path: Path, huge: float) -> None:
    # The config bounds these; the thread must not rely on it. model_copy skips validation.
    cfg = fast_cfg(tmp_path / "missing.avi").model_copy(
        update={"reopen_initial_s": huge, "reopen_max_s": huge, "frame_timeout_s": huge}
    )
    cam = LiveCamera(cfg).start()
    try:
        assert wait_until(lambda: cam.health().errors >= 1)
        health = cam.health()
        assert health.state == "unavailable" and "no such video file" in (health.last_error or "")
        assert any(t.name == "camera" for t in threading.enumerate())  # waiting out its backoff, alive
    finally:
        cam.stop()
    assert not any(t.name == "camera" for t in threading.enumerate())  # stop() interrupts the long wait
    assert cam.health().state == "stopped"


@pytest.mark.parametrize("timeout", [1e300, float("inf"), float("nan")])
def test_open_capture_with_absurd_frame_timeout(clip: Path, timeout: float) -> None:
    cap = open_capture(str(clip), CameraConfig(source=str(clip)).model_copy(update={"frame_timeout_s": timeout}))
    ok, image = cap.read()
    cap.release()
    assert ok and read_number(image) == 0


class Fatal(BaseException):
    """Not an Exception: the one kind of error the capture thread does not recover from."""


def test_dead_capture_thread_is_reported_unavailable(scripted) -> None:
    def on_read(cap: ScriptedCapture, n: int) -> None:
        if n == 3:
            raise Fatal("out of this world")

    scripted(on_read)
    with LiveCamera(fast_cfg("/dev/video0")) as cam:
        assert cam.latest(timeout=3.0) is not None
        assert wait_until(lambda: not any(t.name == "camera" for t in threading.enumerate()))
        health = cam.health()
        assert health.state == "unavailable"
        assert health.detail == (
            "camera source '/dev/video0': the capture thread stopped unexpectedly (Fatal: out of this world)"
        )
    assert cam.health().state == "stopped"
