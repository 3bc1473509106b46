"""The camera mount: its config and presets, and head pose turned from the camera's frame into the vehicle's."""

from __future__ import annotations

import pytest

from edge.config import Config, ConfigError, config_from_dict, with_overrides
from edge.config.mount import MOUNT_PRESETS, MountConfig
from edge.monitor.pose_calibration import VehicleFrame, road_ahead_pose
from edge.rotation import pose_to_rotation, rotation_to_pose
from edge.session import changed_sections
from edge.types import HeadPose


def _close(a: HeadPose, b: HeadPose, tol: float = 1e-6) -> bool:
    return all(abs(x - y) <= tol for x, y in ((a.yaw, b.yaw), (a.pitch, b.pitch), (a.roll, b.roll)))


def test_a_preset_gives_the_angles_and_an_angle_beside_it_overrides_the_preset():
    assert MountConfig().angles() is None and not MountConfig().configured
    assert MountConfig(preset="mirror_lhd").angles() == MOUNT_PRESETS["mirror_lhd"]
    assert MountConfig(preset="mirror_lhd", yaw_deg=45.0).angles() == (45.0, MOUNT_PRESETS["mirror_lhd"][1], 0.0)
    assert MountConfig(yaw_deg=-30.0, pitch_deg=5.0).angles() == (-30.0, 5.0, 0.0)
    assert MOUNT_PRESETS["mirror_rhd"][0] == -MOUNT_PRESETS["mirror_lhd"][0]


def test_a_mount_without_a_preset_needs_yaw_and_pitch_and_the_error_names_the_section():
    with pytest.raises(ConfigError) as info:
        config_from_dict({"camera": {"mount": {"pitch_deg": 10.0}}})
    assert any(p.startswith("camera.mount") and "yaw_deg and pitch_deg" in p for p in info.value.problems)
    with pytest.raises(ConfigError) as info:
        config_from_dict({"camera": {"mount": {"preset": "roof"}}})
    assert any(p.startswith("camera.mount.preset") for p in info.value.problems)


def test_a_camera_to_the_right_and_above_sees_the_road_ahead_face_turned_left_and_looking_down():
    road = road_ahead_pose((40.0, 10.0, 0.0))
    assert road.yaw == 40.0 and road.pitch == -10.0
    frame = VehicleFrame((40.0, 10.0, 0.0))
    assert _close(frame.to_vehicle(road), HeadPose(0.0, 0.0, 0.0))


def test_the_vehicle_frame_composes_the_rotations_rather_than_subtracting_angles():
    mount = (40.0, 10.0, 0.0)
    frame = VehicleFrame(mount)
    head = HeadPose(yaw=-30.0, pitch=-20.0, roll=0.0)  # in the vehicle: right and down, toward the console
    seen = rotation_to_pose(pose_to_rotation(road_ahead_pose(mount)) @ pose_to_rotation(head))
    assert _close(frame.to_vehicle(seen), head, 1e-6)
    naive = (seen.yaw - 40.0, seen.pitch + 10.0)
    assert abs(naive[0] - head.yaw) > 1.0 or abs(naive[1] - head.pitch) > 1.0  # subtraction would be off


def test_without_a_mount_the_camera_pose_is_passed_through():
    pose = HeadPose(12.0, -3.0, 1.0)
    assert VehicleFrame(None).to_vehicle(pose) is pose


def test_a_new_mount_is_a_change_of_its_own_that_does_not_touch_the_camera():
    base = Config()
    mounted = with_overrides(base, "test", {"camera": {"mount": {"preset": "steering_column"}}})
    assert changed_sections(base, mounted) == ("camera.mount",)
    moved = with_overrides(mounted, "test", {"camera": {"source": "/dev/video2"}})
    assert changed_sections(mounted, moved) == ("camera",)
