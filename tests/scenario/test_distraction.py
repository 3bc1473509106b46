"""The distraction policy driven by time vectors at 30 fps, at the boundaries of each rule.

Durations follow drowsiness.py: a continuous run is measured from its first sample to the current one, so "off
road for 3.0 s" is off-road frames from t to t + 3.0 inclusive (91 frames at 30 fps).
"""

from __future__ import annotations

import pytest

from edge.config import DistractionConfig
from edge.monitor.distraction import DistractionMonitor, DistractionSample, DistractionState

FPS = 30.0
ON = (0.0, 0.0)
OFF = (40.0, 0.0)  # head turned 40 degrees to the driver's left
NOT_JUDGED = None  # no pose: the camera lost the face


def monitor(has_mount: bool = True, **overrides) -> DistractionMonitor:
    """With a mount by default: the rules below are judged from the first frame against the mount's road-ahead
    pose, (0, 0) in the vehicle frame."""
    return DistractionMonitor(DistractionConfig(**overrides), has_mount)


def inclusive(seconds: float) -> int:
    """Frames from t to t + seconds inclusive."""
    return int(round(seconds * FPS)) + 1


def feed(m: DistractionMonitor, segments, t0: float = 0.0, quality: float = 0.9) -> list[DistractionState]:
    """segments: (frames, (yaw, pitch) or None); a float frame count means seconds at FPS."""
    states, i = [], 0
    for n, pose in segments:
        frames = int(round(n * FPS)) if isinstance(n, float) else n
        for _ in range(frames):
            yaw, pitch = pose if pose is not None else (None, None)
            states.append(m.step(DistractionSample(t0 + i / FPS, yaw, pitch, quality)))
            i += 1
    return states


def test_long_distraction_at_three_seconds():
    m = monitor()
    states = feed(m, [(1.0, ON), (5.0, OFF)])
    first_off = next(s for s in states if s.on_road is False)
    first = next(s for s in states if s.long_distraction)
    assert first.t - first_off.t == pytest.approx(3.0, abs=1e-9)
    assert first.off_road_s == pytest.approx(3.0, abs=1e-9)
    before = states[states.index(first) - 1]
    assert not before.long_distraction and before.off_road_s < 3.0


@pytest.mark.parametrize("seconds, expected", [(2.9, False), (3.0, True)])
def test_long_distraction_boundary(seconds, expected):
    m = monitor()
    states = feed(m, [(1.0, ON), (inclusive(seconds), OFF), (1.0, ON)])
    assert any(s.long_distraction for s in states) is expected
    assert not states[-1].long_distraction and states[-1].off_road_s == 0.0


@pytest.mark.parametrize(
    "pose, on_road",
    [((24.0, 0.0), True), ((26.0, 0.0), False), ((-26.0, 0.0), False), ((0.0, -19.0), True),
     ((0.0, -21.0), False), ((0.0, 19.0), True), ((0.0, 21.0), False)],
)  # fmt: skip
def test_off_road_angles(pose, on_road):
    m = monitor()
    (state,) = feed(m, [(1, pose)])
    assert state.on_road is on_road


def test_visual_time_sharing_at_ten_seconds_within_thirty():
    m = monitor()
    # four 2.5 s glances with 1 s back on the road between them (too short to reset): 10 s off road in 13.5 s
    states = feed(m, [(1.0, ON)] + [(2.5, OFF), (1.0, ON)] * 4)
    assert not any(s.long_distraction for s in states)
    first = next(s for s in states if s.visual_time_sharing)
    assert first.vats_off_road_s == pytest.approx(10.0, abs=1e-9)
    assert states[states.index(first) - 1].vats_off_road_s < 10.0
    assert states[-1].visual_time_sharing  # 1 s back on the road is no reset


def test_nine_point_nine_seconds_is_not_visual_time_sharing():
    m = monitor()
    states = feed(m, [(1.0, ON)] + [(2.5, OFF), (1.0, ON)] * 3 + [(2.4, OFF), (1.0, ON)])
    assert max(s.vats_off_road_s for s in states) == pytest.approx(9.9, abs=1e-9)
    assert not any(s.visual_time_sharing for s in states)


@pytest.mark.parametrize("on_road_s, reset", [(1.9, False), (2.0, True)])
def test_visual_time_sharing_resets_after_two_seconds_on_road(on_road_s, reset):
    m = monitor()
    glances = [(2.5, OFF), (1.0, ON), (2.5, OFF), (1.0, ON), (2.5, OFF)]
    states = feed(m, [(1.0, ON), *glances, (inclusive(on_road_s), ON), (2.5, OFF), (1, ON)])
    # 7.5 s before the long look back, 2.5 s after: 10 s unless the look back reset the window
    assert (states[-1].vats_off_road_s == pytest.approx(2.5, abs=1e-9)) is reset
    assert states[-1].visual_time_sharing is not reset


def test_old_glances_leave_the_window():
    m = monitor()
    # 7.5 s off road, then 30 s of short glances back and forth that never hold on road for 2 s
    states = feed(m, [(2.5, OFF), (1.0, ON)] * 3 + [(0.1, OFF), (1.5, ON)] * 20)
    assert states[-1].vats_off_road_s < 3.0 and not states[-1].visual_time_sharing


def test_a_camera_fault_is_never_distraction():
    m = monitor()
    states = feed(m, [(1.0, ON), (20.0, NOT_JUDGED)])
    assert all(s.on_road is None for s in states[30:])
    assert not any(s.long_distraction or s.visual_time_sharing for s in states)
    assert states[-1].off_road_s == 0.0 and states[-1].vats_off_road_s == 0.0
    # a poor face is the same as no face
    states = feed(monitor(), [(20.0, OFF)], quality=0.2)
    assert not any(s.long_distraction or s.visual_time_sharing for s in states)
    assert all(s.on_road is None for s in states)


def test_time_not_judged_neither_counts_nor_interrupts():
    m = monitor()
    states = feed(m, [(1.0, ON), (2.0, OFF), (1.0, NOT_JUDGED), (2.0, OFF)])
    during = [s for s in states if s.on_road is None]
    assert during and not any(s.long_distraction for s in during)
    assert all(s.off_road_s == pytest.approx(2.0, abs=1e-9) for s in during)  # kept, not grown, not wiped
    first = next(s for s in states if s.long_distraction)
    assert first.t == pytest.approx(1.0 + 2.0 + 1.0 + 1.0, abs=1e-9)  # 2 s before + 1 s after the gap


def test_gaps_over_half_a_second_count_for_nothing():
    m = monitor()
    states = [m.step(DistractionSample(i * 0.6, *OFF, 0.9)) for i in range(20)]
    assert all(s.on_road is False for s in states)
    assert states[-1].off_road_s == 0.0 and not any(s.long_distraction for s in states)


def test_without_a_mount_nothing_is_judged_until_the_road_ahead_pose_is_learned():
    m = monitor(has_mount=False)
    # the driver looking at the road reads as yaw 15, pitch -10 in the vehicle frame of an unknown mount
    road = (15.0, -10.0)
    states = feed(m, [(11.0, road)])
    learned = next(s for s in states if s.calibration.status == "calibrated")
    assert states.index(learned) == 300  # judged against the mode of calibration_samples = 300 frames
    assert all(s.on_road is None and s.calibration.status == "calibrating" for s in states[:300])
    assert states[150].calibration.progress == pytest.approx(150 / 300)  # judged before it learns
    assert (learned.calibration.yaw, learned.calibration.pitch) == road and learned.yaw_offset == 0.0
    # a 30 degree turn to the right of it is off road, though only 15 degrees from the camera axis
    (turned,) = feed(m, [(1, (-15.0, -10.0))], t0=11.0)
    assert turned.on_road is False and turned.yaw_offset == pytest.approx(-30.0)
    # glances and long looks at the phone do not drag it
    states = feed(m, [(10.0, (70.0, -10.0)), (10.0, (15.0, -45.0)), (1.0, road)], t0=11.5)
    assert (states[-1].calibration.yaw, states[-1].calibration.pitch) == road and states[-1].on_road is True
    assert states[0].on_road is False and states[0].yaw_offset == pytest.approx(55.0)


def test_a_drive_that_starts_looking_away_is_not_learned_as_the_road():
    m = monitor(has_mount=False)
    # 4 s at the navigation screen, then the road with glances of 0.8 s every 2 s
    states = feed(m, [(4.0, OFF)] + [(2.0, ON), (0.8, OFF)] * 8 + [(5.0, ON)])
    assert not any(s.calibration.status == "calibrated" and s.calibration.yaw != 0.0 for s in states)
    assert states[-1].calibration.status == "calibrated" and states[-1].calibration.yaw == 0.0
    assert states[-1].on_road is True


def test_the_road_ahead_pose_is_learned_only_while_moving():
    m = monitor(has_mount=False)
    parked = [m.step(DistractionSample(i / FPS, 30.0, 0.0, 0.9, may_learn_pose=False)) for i in range(600)]
    assert parked[-1].calibration.status == "calibrating" and parked[-1].calibration.progress == 0.0
    states = feed(m, [(11.0, ON)], t0=20.0)
    assert states[-1].calibration.status == "calibrated" and states[-1].calibration.yaw == 0.0


def test_with_a_mount_poses_far_from_it_are_not_learned():
    m = monitor(has_mount=True)
    states = feed(m, [(5.0, (40.0, 0.0)), (25.0, (5.0, -3.0))])
    assert states[0].calibration.status == "mount" and states[0].on_road is False  # judged from the first frame
    assert not any(s.calibration.status == "calibrated" and s.calibration.yaw != 5.0 for s in states)
    assert states[-1].calibration.status == "calibrated" and not states[-1].calibration.mount_rejected
    assert (states[-1].calibration.yaw, states[-1].calibration.pitch) == (5.0, -3.0)


def test_a_mount_off_by_more_than_the_off_road_angles_is_corrected_by_the_drive():
    m = monitor(has_mount=True)
    states = feed(m, [(11.0, (0.0, -24.0))])  # the real road-ahead pose: 24 deg below the mount's line
    assert states[0].on_road is False  # judged against the wrong mount until the drive corrects it
    assert states[-1].calibration.status == "calibrated" and states[-1].on_road is True


def test_a_mount_that_most_poses_contradict_is_rejected_and_not_judged_against():
    m = monitor(has_mount=True)
    states = feed(m, [(31.0, (0.0, -35.0))])  # the camera was moved: the driver watches the road 35 deg below it
    assert not states[int(29 * FPS)].calibration.mount_rejected  # not before ~30 s of driving
    assert states[-1].calibration.mount_rejected
    assert states[-1].calibration.status == "calibrated" and states[-1].calibration.pitch == -35.0
    assert states[-1].on_road is True


def test_unconfident_frames_do_not_teach_the_road_ahead_pose():
    m = monitor(has_mount=False)
    states = feed(m, [(10.0, (10.0, 0.0))], quality=0.5)  # judged (>= 0.3) but not confident (< 0.6)
    assert states[-1].calibration.status == "calibrating" and states[-1].on_road is None


def test_gaze_offset_adds_to_the_head_pose():
    m = monitor()
    (state,) = [m.step(DistractionSample(0.0, 5.0, 0.0, 0.9, gaze_yaw=25.0, gaze_pitch=0.0))]
    assert state.on_road is False and state.yaw_offset == pytest.approx(30.0)
