"""The live camera: source parsing, opening with the right OpenCV backend, and a supervised capture thread.

The thread keeps only the newest frame in a single slot, so the session worker never falls behind the camera;
frames replaced before anyone took them are counted as dropped. The thread is a SupervisedSource (supervised.py):
on a device error it releases the device, reports "unavailable" with the reason, and reopens with backoff.
Privacy: frames stay in memory; they are never written to disk or logged.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from edge.config import CameraConfig
from edge.sources.supervised import SourceFailure, SourceState, SupervisedSource
from edge.sources.timing import safe_seconds
from edge.types import Frame

log = logging.getLogger("edge.camera")

SourceKind = Literal["file", "v4l2", "gstreamer"]

_FPS_WINDOW_S = 2.0
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_V4L_SELECT_TIMEOUT_ENV = "OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT"


class CameraError(Exception):
    """A camera source that cannot be parsed or opened; the message names the source."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    kind: SourceKind
    target: str | int  # file path or URL, V4L2 index or device path, or GStreamer pipeline


def parse_source(spec: str) -> SourceSpec:
    """ "gst:<pipeline>" → GStreamer; "0", "/dev/video0", "/dev/v4l/by-id/…" → V4L2; else a video file or URL."""
    text = spec.strip()
    if not text:
        raise CameraError("camera source is empty: give a video file, a V4L2 device (0, /dev/video0) or gst:<pipeline>")
    if text.startswith("gst:"):
        pipeline = text[4:].strip()
        if not pipeline:
            raise CameraError(f"camera source {spec!r}: empty GStreamer pipeline after 'gst:'")
        return SourceSpec("gstreamer", pipeline)
    if text.isdigit():
        return SourceSpec("v4l2", int(text))
    # /dev/v4l/by-id/… and by-path/… are the stable names of the same devices.
    if text.startswith(("/dev/video", "/dev/v4l/")):
        return SourceSpec("v4l2", text)
    # Network streams (rtsp://, http://) go through FFmpeg like files but cannot be checked on disk.
    if not _URL.match(text) and not Path(text).is_file():
        raise CameraError(f"camera source {text!r}: no such video file")
    return SourceSpec("file", text)


@functools.cache
def gstreamer_available() -> bool:
    """Whether this OpenCV build has the GStreamer backend (pip wheels usually do not)."""
    match = re.search(r"GStreamer:\s*(\w+)", cv2.getBuildInformation())
    return bool(match) and match.group(1).upper() == "YES"


def _frame_timeout(cfg: CameraConfig) -> float:
    return safe_seconds(cfg.frame_timeout_s, 2.0)


def set_v4l2_select_timeout(cfg: CameraConfig) -> None:
    """Bring OpenCV's V4L2 select timeout (10 s by default) near frame_timeout_s, so a stalled device's read returns
    in time to be reopened. OpenCV reads the variable at the first V4L2 open; changing the environment is not
    thread-safe, so call this before any capture thread starts (LiveCamera.start() does). An explicit setting in
    the environment wins."""
    os.environ.setdefault(_V4L_SELECT_TIMEOUT_ENV, str(max(1, math.ceil(_frame_timeout(cfg)))))


def open_capture(spec: SourceSpec | str, cfg: CameraConfig) -> cv2.VideoCapture:
    """Open `spec` with the backend its kind needs; raise CameraError naming the source when it does not open."""
    if isinstance(spec, str):
        spec = parse_source(spec)
    if spec.kind == "gstreamer":
        if not gstreamer_available():
            raise CameraError(
                f"camera source gst:{spec.target}: this OpenCV build has no GStreamer support "
                "(cv2.getBuildInformation() says 'GStreamer: NO'); install an OpenCV built with GStreamer "
                "(e.g. the distribution's python3-opencv) or use a V4L2 device"
            )
        cap = cv2.VideoCapture(str(spec.target), cv2.CAP_GSTREAMER)
    elif spec.kind == "v4l2":
        # A stalled V4L2 device blocks each read for OpenCV's select timeout: set_v4l2_select_timeout() (called by
        # LiveCamera.start(), not here: this runs on the capture thread) brings it near frame_timeout_s.
        cap = cv2.VideoCapture(spec.target, cv2.CAP_V4L2)
        if cap.isOpened():
            _request_format(cap, cfg)
    else:
        # The FFmpeg read timeout bounds a stalled network stream (rtsp://) like the V4L2 one above.
        timeout_ms = round(_frame_timeout(cfg) * 1000)  # clamped: an int the C API accepts
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, max(timeout_ms, 5000), cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        cap = cv2.VideoCapture(str(spec.target), cv2.CAP_FFMPEG, params)
        if not cap.isOpened():  # another backend may still read it (e.g. an image sequence)
            cap = cv2.VideoCapture(str(spec.target), cv2.CAP_ANY)
    if not cap.isOpened():
        cap.release()
        raise CameraError(f"camera source {_describe(spec)}: could not be opened")
    return cap


def _request_format(cap: cv2.VideoCapture, cfg: CameraConfig) -> None:
    # The pixel format goes first: it decides which sizes and rates the driver offers.
    if cfg.fourcc is not None:
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*cfg.fourcc))
    if cfg.width is not None:
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
    if cfg.height is not None:
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
    cap.set(cv2.CAP_PROP_FPS, cfg.fps)


def _describe(spec: SourceSpec) -> str:
    if spec.kind == "gstreamer":
        return f"gst:{spec.target}"
    if spec.kind == "v4l2" and isinstance(spec.target, int):
        return f"V4L2 device {spec.target} (/dev/video{spec.target})"
    return repr(spec.target) if spec.kind == "file" else f"V4L2 device {spec.target}"


class LiveCamera(SupervisedSource):
    """The live frame source: a named thread ("camera") that keeps only the newest frame.

    `Frame.t` is `clock()` right after the grab (for a file, after pacing it to its own rate); `Frame.index`
    grows by one per captured frame across reopens. Use `latest()` to take frames and `health()` to report:
    "starting" until the first frame, "unavailable" while failing or when no frame came for frame_timeout_s.
    """

    thread_name = "camera"
    _log = log
    _unavailable_note = "camera unavailable"

    def __init__(self, cfg: CameraConfig, clock: Callable[[], float] = time.monotonic):
        # The config's times, clamped (timing.py): the thread never relies on the config's own bounds.
        self._frame_timeout = _frame_timeout(cfg)
        super().__init__(
            f"camera source {cfg.source!r}",
            clock,
            safe_seconds(cfg.reopen_initial_s, 0.5),
            safe_seconds(cfg.reopen_max_s, 10.0),
            join_timeout_s=self._frame_timeout + 5.0,
        )
        self._cfg = cfg
        # Guarded by self._lock.
        self._slot: Frame | None = None
        self._slot_taken = True
        self._next_index = 0
        self._dropped = 0  # captured but replaced before the consumer took them
        self._last_frame_t: float | None = None
        self._recent: deque[float] = deque()

    def latest(self, after_index: int = -1, timeout: float = 1.0) -> Frame | None:
        """The newest frame with index > after_index, waiting up to `timeout` s; None on timeout or stop."""

        def ready() -> bool:
            return self._stop.is_set() or (self._slot is not None and self._slot.index > after_index)

        with self._lock:
            self._lock.wait_for(ready, timeout)
            frame = self._slot
            if frame is None or frame.index <= after_index:
                return None
            self._slot_taken = True
            return frame

    # -- SupervisedSource hooks -------------------------------------------------------------------------------

    def _before_start(self) -> None:
        try:
            kind: SourceKind | None = parse_source(self._cfg.source).kind
        except CameraError:
            kind = None  # the thread reports it and retries
        if kind == "v4l2":
            set_v4l2_select_timeout(self._cfg)  # here, on the caller's thread, before the capture thread exists

    def _age(self, now: float) -> float | None:
        return None if self._last_frame_t is None else max(0.0, now - self._last_frame_t)

    def _device_state(self, now: float) -> tuple[SourceState, str | None]:
        age = self._age(now)
        if age is None:
            return "starting", None
        # The age check also covers a read that is still blocked inside the driver.
        return ("unavailable" if age > self._frame_timeout else "ok"), self._last_error

    def _detail(self, state: SourceState, reason: str | None) -> str | None:
        if state == "ok":
            return None
        if state == "starting":
            return f"opening {self._cfg.source}"
        return reason or f"{self._cfg.source}: no frames"

    def _metrics(self, now: float) -> dict[str, Any]:
        recent = [t for t in self._recent if now - t <= _FPS_WINDOW_S]
        span = recent[-1] - recent[0] if len(recent) > 1 else 0.0
        return {
            "source": self._cfg.source,
            "fps": round((len(recent) - 1) / span if span > 0 else 0.0, 2),  # published with 2 decimals
            "frames": self._next_index,  # captured since start, across reopens
            "dropped": self._dropped,
            "reopens": self._reopens,  # reopen attempts after a failure (a file's loop is not one)
            "errors": self._errors,
            "last_frame_age_s": self._age(now),  # None before the first frame
        }

    def _reopening(self) -> None:
        with self._lock:
            self._reopens += 1
        log.info("reopening camera source %r", self._cfg.source)

    def _open_and_pump(self) -> bool:
        """Open the source and pump frames until stop or the end of a file (True). Raises on failure."""
        try:
            spec = parse_source(self._cfg.source)
            cap = open_capture(spec, self._cfg)
        except CameraError as err:
            raise SourceFailure(str(err)) from None
        try:
            period = self._file_period(cap) if spec.kind == "file" else None
            got = False
            due = time.monotonic()
            last_good = time.monotonic()
            while not self._stop.is_set():
                ok, image = cap.read()
                now_real = time.monotonic()
                if not ok or image is None:
                    if period is not None and got:
                        return True  # end of file: reopened at once
                    raise SourceFailure(f"camera source {self._cfg.source!r}: read failed", got)
                # A camera may take a while to deliver its first frame; afterwards a long gap means a stall.
                if got and now_real - last_good > self._frame_timeout:
                    raise SourceFailure(
                        f"camera source {self._cfg.source!r}: no frame for {now_real - last_good:.1f} s", got
                    )
                if period is not None:
                    # Pace a file at its own rate on real time; after a long stall, resync instead of bursting.
                    due = max(due + period, now_real - period)
                    if self._wait(due - now_real):
                        break
                last_good = time.monotonic()
                got = True
                self._publish(image)
            return got
        finally:
            cap.release()

    def _file_period(self, cap: cv2.VideoCapture) -> float:
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not (math.isfinite(fps) and 0.0 < fps <= 1000.0):
            fps = self._cfg.fps
        if not (math.isfinite(fps) and 0.0 < fps <= 1000.0):
            fps = 30.0
        return 1.0 / fps

    def _publish(self, image: np.ndarray) -> None:
        t = self._clock()
        with self._lock:
            if self._slot is not None and not self._slot_taken:
                self._dropped += 1
            self._slot = Frame(image=image, t=t, index=self._next_index)
            self._slot_taken = False
            self._next_index += 1
            if self._failing:
                log.info("camera source %r delivers frames again", self._cfg.source)
            self._failing = False
            self._last_frame_t = t
            self._recent.append(t)
            while self._recent and t - self._recent[0] > _FPS_WINDOW_S:
                self._recent.popleft()
            self._lock.notify_all()
