"""`dms calibrate`: measure the camera mount at installation (docs/calibration.md).

Parked, the driver looks at the road ahead for a few seconds. The median head pose of the confident frames is the
road-ahead pose as this camera sees it, and the mount is the camera bearing that produces it. The measurement is
refused, with the reason, when the face was missing too often or the head moved: a mount learned from a glance
would misjudge every later frame of every drive.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import tomlkit

from edge.config import Config, load_config
from edge.monitor.pose_calibration import CONFIDENT_LANDMARKS, mount_from_road_ahead
from edge.types import FaceObservation, Frame, HeadPose

MIN_FACE_SHARE = 0.8  # of the frames; fewer: the face was missing or poorly seen
MAX_SPREAD_DEG = 8.0  # p10-p90 of yaw or of pitch: a driver holding the road in view; more is a moving head
MIN_FACES = 15  # confident frames, at the least (half a second at 30 fps)
_FIRST_FRAME_TIMEOUT_S = 15.0  # no frame by then: refused as "no frame from the camera"


class CalibrationRefused(Exception):
    """The frames cannot give a mount; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class MountMeasurement:
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    frames: int
    faces: int  # confident frames among them
    yaw_spread: float  # p10-p90, degrees
    pitch_spread: float

    def summary(self) -> str:
        return (f"camera mount: yaw {self.yaw_deg:+.1f}°, pitch {self.pitch_deg:+.1f}°, roll {self.roll_deg:+.1f}° "
                f"({self.faces} of {self.frames} frames; head still within {self.yaw_spread:.1f}° yaw, "
                f"{self.pitch_spread:.1f}° pitch)")


def measure_mount(observations: Sequence[FaceObservation]) -> MountMeasurement:
    """The mount from the observations of a driver looking at the road; raises CalibrationRefused."""
    poses = [o.pose for o in observations
             if o.present and o.pose is not None and (o.landmark_score or 0.0) >= CONFIDENT_LANDMARKS]
    if not observations:
        raise CalibrationRefused("no frame from the camera")
    share = len(poses) / len(observations)
    if share < MIN_FACE_SHARE or len(poses) < MIN_FACES:
        raise CalibrationRefused(
            f"the face was seen clearly in {share:.0%} of {len(observations)} frames (at least "
            f"{MIN_FACE_SHARE:.0%} and {MIN_FACES} frames needed): is the driver in the seat and in view, the lens "
            "clean and the infrared lit?")
    yaws, pitches, rolls = (np.array([getattr(p, a) for p in poses]) for a in ("yaw", "pitch", "roll"))
    spreads = [float(np.percentile(v, 90) - np.percentile(v, 10)) for v in (yaws, pitches)]
    if max(spreads) > MAX_SPREAD_DEG:
        raise CalibrationRefused(
            f"the head moved (yaw spread {spreads[0]:.1f}°, pitch {spreads[1]:.1f}°; at most {MAX_SPREAD_DEG:.0f}°): "
            "ask the driver to sit still and look at the road ahead, then run it again")
    road = HeadPose(float(np.median(yaws)), float(np.median(pitches)), float(np.median(rolls)))
    yaw, pitch, roll = mount_from_road_ahead(road)
    return MountMeasurement(round(yaw, 1), round(pitch, 1), round(roll, 1), len(observations), len(poses),
                            round(spreads[0], 2), round(spreads[1], 2))


def camera_frames(cfg: Config, seconds: float) -> Iterator[Frame]:
    """`seconds` of frames: of the video's own time for a file (repeatable), of wall time from a live camera."""
    source = cfg.camera.source
    if Path(source).is_file():
        from edge.sources.recording import open_replay

        with open_replay(source, cfg.camera.fps) as replay:
            for frame in replay:
                if frame.t >= seconds:
                    return
                yield frame
        return
    from edge.sources.camera import LiveCamera

    with LiveCamera(cfg.camera) as camera:
        # The window starts at the first frame: a CSI camera can take seconds to deliver one.
        deadline, last = time.monotonic() + _FIRST_FRAME_TIMEOUT_S, -1
        started = False
        while time.monotonic() < deadline:
            frame = camera.latest(last, timeout=0.5)
            if frame is not None:
                if not started:
                    deadline, started = time.monotonic() + seconds, True
                last = frame.index
                yield frame


def mount_section(text: str, m: MountMeasurement) -> str:
    """The config file's text with `[camera.mount]` set to the measurement; every other line is kept."""
    doc = tomlkit.parse(text)
    camera = doc.setdefault("camera", tomlkit.table())
    mount = tomlkit.table()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mount.add(tomlkit.comment(f"measured by `dms calibrate` on {stamp}: {m.faces} frames of the driver looking ahead"))
    mount.add("yaw_deg", m.yaw_deg)
    mount.add("pitch_deg", m.pitch_deg)
    mount.add("roll_deg", m.roll_deg)
    camera["mount"] = mount
    return tomlkit.dumps(doc)


def write_mount(path: Path, m: MountMeasurement) -> None:
    """Rewrite the config file with the mount, atomically, after checking the result is a valid config."""
    text = mount_section(path.read_text(encoding="utf-8"), m)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        load_config(tmp)  # raises ConfigError before anything is replaced
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def calibrate(cfg: Config, seconds: float, write_to: Path | None) -> bool:
    """The guided step: watch the driver, measure, then print the section or write it into `write_to`. False (and
    the reason on stderr) when the measurement is refused."""
    from edge.vision.pipeline import VisionPipeline

    vision = VisionPipeline.from_config(cfg)
    print(f"look at the road ahead and keep still for {seconds:g} s ...", file=sys.stderr)
    try:
        measured = measure_mount([vision.process(frame) for frame in camera_frames(cfg, seconds)])
    except CalibrationRefused as err:
        print(f"dms calibrate: refused: {err}", file=sys.stderr)
        return False
    print(measured.summary(), file=sys.stderr)
    if write_to is None:
        print(f"[camera.mount]\nyaw_deg = {measured.yaw_deg}\npitch_deg = {measured.pitch_deg}\n"
              f"roll_deg = {measured.roll_deg}")
    else:
        write_mount(write_to, measured)
        print(f"wrote [camera.mount] to {write_to}; a running daemon takes it on cmd/reload or SIGHUP", file=sys.stderr)
    return True
