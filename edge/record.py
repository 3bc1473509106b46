"""`dms record`: the live camera's frames into a drive folder (docs/recording.md), until SIGTERM, SIGINT or the
given number of seconds. The caller checks that recording is enabled: nothing else writes a frame to disk."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from edge.config import Config
from edge.sources.camera import LiveCamera
from edge.sources.recording import DriveWriter


def record_drive(cfg: Config, out: Path, seconds: float | None) -> int:
    """Record until stopped (or for `seconds`); returns the number of frames written."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deadline = time.monotonic() + seconds if seconds else float("inf")
    writer: DriveWriter | None = None
    frames, last_index = 0, -1
    with LiveCamera(cfg.camera) as camera:
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                frame = camera.latest(last_index, timeout=0.5)
                if frame is None:
                    continue
                if writer is None:
                    h, w = frame.image.shape[:2]
                    writer = DriveWriter(out, cfg.device_id, cfg.camera.fps, (w, h), origin=frame.t)
                writer.write_frame(frame)
                frames, last_index = frames + 1, frame.index
        finally:
            if writer is not None:
                writer.close()
    return frames
