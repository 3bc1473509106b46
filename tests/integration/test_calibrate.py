"""`dms calibrate` on real face video: the mount is measured from a driver holding still, written into the config
file with its comments kept, and refused with the reason when the face is missing or the head moves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from edge.config import load_config
from edge.monitor.pose_calibration import VehicleFrame
from edge.sources.recording import open_replay
from edge.vision.pipeline import VisionPipeline

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """# the vehicle's config, with comments that must survive
device_id = "cab-9"   # cab nine

[camera]
fps = 25.0  # a file's nominal rate

[distraction]
yaw_off_road_deg = 30.0
"""


def dms(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def still_driver(clip, tmp_path) -> Path:
    """3 s of one real frame of a driver facing the camera: a driver who holds perfectly still."""
    with open_replay(clip("face_noface.mov")) as replay:
        frame = next(f for f in replay if f.t >= 1.2).image
    path = tmp_path / "still.avi"
    h, w = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (w, h))
    for _ in range(75):
        writer.write(frame)
    writer.release()
    return path


def test_the_mount_is_measured_and_written_keeping_the_rest_of_the_file(still_driver, tmp_path):
    config = tmp_path / "dms.toml"
    config.write_text(CONFIG)
    result = dms("calibrate", "--config", str(config), "--camera", str(still_driver), "--seconds", "2", "--write")
    assert result.returncode == 0, result.stderr
    assert "camera mount: yaw" in result.stderr and "wrote [camera.mount]" in result.stderr
    text = config.read_text()
    assert "# cab nine" in text and "# a file's nominal rate" in text and "yaw_off_road_deg = 30.0" in text
    cfg = load_config(config)
    assert cfg.device_id == "cab-9" and cfg.distraction.yaw_off_road_deg == 30.0
    angles = cfg.camera.mount.angles()
    assert angles is not None
    # the driver's pose, as the camera sees it, is the road ahead in the vehicle frame of the written mount
    vision = VisionPipeline.from_config(cfg)
    with open_replay(still_driver) as replay:
        seen = [vision.process(frame).pose for frame in replay][-1]  # tracked, as most frames are
    ahead = VehicleFrame(angles).to_vehicle(seen)
    assert abs(ahead.yaw) < 0.2 and abs(ahead.pitch) < 0.2


def test_without_write_the_section_is_printed_and_the_file_untouched(still_driver, tmp_path):
    config = tmp_path / "dms.toml"
    config.write_text(CONFIG)
    result = dms("calibrate", "--config", str(config), "--camera", str(still_driver), "--seconds", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[camera.mount]\nyaw_deg = ") and config.read_text() == CONFIG


def test_a_missing_face_is_refused_with_the_reason(clip, tmp_path):
    result = dms("calibrate", "--camera", str(clip("noface_face.mov")), "--seconds", "3")
    assert result.returncode == 2
    assert "refused: the face was seen clearly in 0% of" in result.stderr


def test_a_moving_head_is_refused_and_nothing_is_written(clip, tmp_path):
    config = tmp_path / "dms.toml"
    config.write_text(CONFIG)
    result = dms("calibrate", "--config", str(config), "--camera", str(clip("WolfgangLanger_Pexels.mp4")), "--write")
    assert result.returncode == 2
    assert "refused: the head moved (yaw spread" in result.stderr
    assert config.read_text() == CONFIG


def test_write_needs_a_config_file(still_driver):
    result = dms("calibrate", "--camera", str(still_driver), "--write")
    assert result.returncode == 2 and "--write needs --config FILE" in result.stderr
