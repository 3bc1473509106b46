"""Alert conditions from the monitors' states, at the boundaries of docs/alerts.md's table.

Most tests run the real drowsiness and distraction monitors, the condition tracker and the alert manager together
on time vectors at 30 fps, as DriverMonitor will. Durations are measured from the first sample of a condition to
the current one, so "for 5.0 s" is samples from t to t + 5.0 inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from edge.config import AlertsConfig, Config
from edge.monitor.alerts import AlertEvent, AlertManager, Condition
from edge.monitor.conditions import UNRESPONSIVE_WATCH, ConditionInputs, ConditionTracker
from edge.monitor.distraction import DistractionMonitor, DistractionSample
from edge.monitor.drowsiness import DrowsinessMonitor, DrowsinessSample, DrowsinessState
from edge.monitor.fusion import FusionState

FPS = 30.0
OPEN, CLOSED = 0.05, 0.95
ROAD, AWAY = (0.0, 0.0), (40.0, 0.0)


@dataclass(frozen=True)
class Frame:
    closed: float | None = OPEN  # both eyes' P(closed); None: eyes not visible
    pose: tuple[float, float] | None = ROAD
    present: bool = True
    quality: float = 0.9
    camera_ok: bool = True


DRIVING = Frame()
EYES_SHUT = Frame(closed=CLOSED)
LOOKING_AWAY = Frame(pose=AWAY)
NO_FACE = Frame(closed=None, pose=None, present=False, quality=0.0)
CAMERA_DOWN = Frame(closed=None, pose=None, present=False, quality=0.0, camera_ok=False)
SUNGLASSES = Frame(closed=None)


class Harness:
    def __init__(self, cfg: Config | None = None):
        self.cfg = cfg or Config()
        self.drowsiness = DrowsinessMonitor(self.cfg.drowsiness, self.cfg.eyes)
        self.distraction = DistractionMonitor(self.cfg.distraction, has_mount=True)  # judged from the first frame
        self.tracker = ConditionTracker(self.cfg)
        self.alerts = AlertManager(self.cfg.alerts, "dms")
        self.t = 0.0
        self.i = 0
        self.log: list[tuple[float, dict[str, Condition], list[AlertEvent]]] = []

    def feed(self, seconds: float | int, frame: Frame) -> None:
        """seconds at FPS (an int: that many frames)."""
        n = seconds if isinstance(seconds, int) else int(round(seconds * FPS))
        for _ in range(n):
            t = self.i / FPS
            yaw, pitch = frame.pose if frame.pose is not None else (None, None)
            d = self.drowsiness.step(DrowsinessSample(t, frame.closed, 0.05 if frame.present else None, pitch))
            s = self.distraction.step(DistractionSample(t, yaw, pitch, frame.quality))
            x = ConditionInputs(
                t=t,
                camera_ok=frame.camera_ok,
                face_present=frame.present,
                face_quality=frame.quality,
                eyes_visible=frame.closed is not None,
                drowsiness=d,
                distraction=s,
                fusion=None,
                warning_since=self.alerts.warning_since(UNRESPONSIVE_WATCH),
            )
            conds = self.tracker.step(x)
            self.log.append((t, conds, self.alerts.step(conds, t)))
            self.i += 1

    def first(self, kind: str) -> tuple[float, Condition] | None:
        return next(((t, c[kind]) for t, c, _ in self.log if c[kind].active), None)

    def starts(self) -> list[tuple[float, str, str]]:
        return [(round(t, 3), e.kind, e.level) for t, _, events in self.log for e in events if e.type == "start"]


def inclusive(seconds: float) -> int:
    return int(round(seconds * FPS)) + 1


def test_microsleep_at_one_second_then_sleep_at_three():
    h = Harness()
    h.feed(1.0, DRIVING)
    h.feed(4.0, EYES_SHUT)
    t, micro = h.first("microsleep")
    assert t == pytest.approx(2.0) and micro.evidence["closure_s"] == pytest.approx(1.0)
    t, sleep = h.first("sleep")
    assert t == pytest.approx(4.0) and sleep.evidence["closure_s"] == pytest.approx(3.0)
    at_sleep = next(c for tt, c, _ in h.log if tt == t)
    assert not at_sleep["microsleep"].active  # microsleep is 1 s <= closure < 3 s
    assert h.starts() == [(2.0, "microsleep", "warning"), (4.0, "sleep", "critical")]


@pytest.mark.parametrize("closed_s, microsleep", [(0.9, False), (1.0, True)])
def test_microsleep_boundary(closed_s, microsleep):
    h = Harness()
    h.feed(1.0, DRIVING)
    h.feed(inclusive(closed_s), EYES_SHUT)
    h.feed(1.0, DRIVING)
    assert (h.first("microsleep") is not None) is microsleep


def test_unresponsive_after_six_seconds_of_closed_eyes():
    h = Harness()
    h.feed(1.0, DRIVING)
    h.feed(8.0, EYES_SHUT)
    t, cond = h.first("unresponsive")
    assert t == pytest.approx(7.0) and cond.evidence["reason"] == "eyes_closed"
    assert cond.evidence["closure_s"] == pytest.approx(6.0)
    assert (7.0, "unresponsive", "critical") in h.starts()


def test_a_head_angle_alone_is_never_unresponsive():
    # without a warning in between (the tracker alone): 8 s off road is a long distraction, not an unresponsive
    # driver; only a driver who does not look back after the warning is (the next test)
    tracker = ConditionTracker(Config())
    m = DistractionMonitor(Config().distraction, has_mount=True)
    for i in range(int(9 * FPS)):
        t = i / FPS
        pose = ROAD if t < 1.0 - 1e-9 else AWAY
        s = m.step(DistractionSample(t, *pose, 0.9))
        conds = tracker.step(ConditionInputs(t, True, True, 0.9, True, None, s, None))
        assert not conds["unresponsive"].active
    assert conds["long_distraction"].active and s.off_road_s > 7.9


def test_unresponsive_when_no_return_within_three_seconds_of_a_warning():
    h = Harness(Config(alerts=AlertsConfig(unresponsive_s=60.0)))  # only the no-return clause can fire
    h.feed(1.0, DRIVING)
    h.feed(8.0, LOOKING_AWAY)
    assert h.starts()[0] == (4.0, "long_distraction", "warning")  # off road 3 s
    t, cond = h.first("unresponsive")
    assert t == pytest.approx(7.0) and cond.evidence["reason"] == "no_return_after_warning"


def test_a_return_within_three_seconds_of_a_warning_is_not_unresponsive():
    h = Harness(Config(alerts=AlertsConfig(unresponsive_s=60.0)))
    h.feed(1.0, DRIVING)
    h.feed(5.5, LOOKING_AWAY)  # warned at 4.0 s, back at 6.5 s
    h.feed(3.0, DRIVING)
    h.feed(2.0, LOOKING_AWAY)  # away again after the return, while the warning alert lasts: no new deadline
    assert h.first("long_distraction") is not None and h.first("unresponsive") is None


@pytest.mark.parametrize("gone_s, alert", [(4.9, False), (5.0, True)])
def test_driver_not_visible_at_five_seconds(gone_s, alert):
    h = Harness()
    h.feed(1.0, DRIVING)
    h.feed(inclusive(gone_s), NO_FACE)
    h.feed(0.5, DRIVING)
    found = h.first("driver_not_visible")
    assert (found is not None) is alert
    if alert:
        assert found[0] == pytest.approx(6.0) and found[1].evidence["not_visible_s"] == pytest.approx(5.0)
        assert (6.0, "driver_not_visible", "warning") in h.starts()


def test_a_poor_face_is_not_visible_either():
    h = Harness()
    h.feed(1.0, DRIVING)
    h.feed(6.0, Frame(quality=0.1))
    assert h.first("driver_not_visible") is not None


def test_a_camera_fault_is_never_an_absent_or_distracted_driver():
    h = Harness()
    h.feed(1.0, DRIVING)
    h.feed(3.0, LOOKING_AWAY)  # the camera dies while the driver looks away, just short of 3 s
    h.feed(20.0, CAMERA_DOWN)
    kinds = {k for _, kind, _ in h.starts() for k in [kind]}
    assert "driver_not_visible" not in kinds and "unresponsive" not in kinds
    assert "long_distraction" not in kinds and "visual_time_sharing" not in kinds
    t, degraded = h.first("monitoring_degraded")
    assert t == pytest.approx(4.0) and degraded.evidence == {"reason": "camera"}
    # and when it comes back, the absence is measured afresh
    h.feed(inclusive(4.9), NO_FACE)
    assert h.first("driver_not_visible") is None


def test_eyes_not_visible_for_ten_seconds_degrades_monitoring():
    h = Harness()
    h.feed(1.0, DRIVING)
    h.feed(inclusive(9.9), SUNGLASSES)
    assert h.first("monitoring_degraded") is None
    h.feed(3, SUNGLASSES)  # to 11.0 s
    t, cond = h.first("monitoring_degraded")
    assert t == pytest.approx(11.0) and cond.evidence["reason"] == "eyes_not_visible"
    assert h.first("driver_not_visible") is None and h.first("microsleep") is None


def test_long_distraction_and_its_evidence():
    h = Harness()
    h.feed(1.0, DRIVING)
    h.feed(4.0, LOOKING_AWAY)
    t, cond = h.first("long_distraction")
    assert t == pytest.approx(4.0)
    assert cond.evidence["off_road_s"] == pytest.approx(3.0) and cond.evidence["yaw"] == pytest.approx(40.0)


def test_visual_time_sharing_condition():
    h = Harness()
    h.feed(1.0, DRIVING)
    for _ in range(4):
        h.feed(2.5, LOOKING_AWAY)
        h.feed(1.0, DRIVING)
    t, cond = h.first("visual_time_sharing")
    assert cond.evidence["vats_off_road_s"] == pytest.approx(10.0) and cond.evidence["window_s"] == 30.0
    assert h.first("long_distraction") is None


def _drowsy(level: str, kss: float | None) -> DrowsinessState:
    return DrowsinessState(0.0, False, 0.0, 0.12, 14.0, kss, level, 10, 2, 0, 0, 1, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "level, kss, active, alert_level",
    [("slightly_drowsy", 6.5, False, None), ("drowsy", 7.2, True, None), ("very_drowsy", 8.1, True, "warning")],
)
def test_drowsiness_levels(level, kss, active, alert_level):
    tracker = ConditionTracker(Config())
    conds = tracker.step(ConditionInputs(0.0, True, True, 0.9, True, _drowsy(level, kss), None, None))
    cond = conds["drowsiness"]
    assert cond.active is active and cond.level == alert_level
    if active:
        assert cond.evidence["kss"] == kss and cond.evidence["perclos"] == 0.12


def _fusion(stress: float | None) -> FusionState:
    return FusionState(0.0, None, stress, ("physio",), (), ("face", "voice"), (), ("physio",) if stress else ())


def test_stress_high_for_sixty_seconds():
    tracker = ConditionTracker(Config())

    def run(t0: float, seconds: float, stress: float | None) -> float | None:
        for i in range(int(round(seconds * 2))):  # fusion at 2 Hz is plenty for a 60 s rule
            t = t0 + i / 2
            x = ConditionInputs(t, True, True, 0.9, True, None, None, _fusion(stress))
            cond = tracker.step(x)["stress"]
            if cond.active:
                return t
        return None

    assert run(0.0, 50.0, 0.8) is None
    assert run(50.0, 20.0, None) is None  # the physiology dropped out: not imputed, the count starts again
    assert run(70.0, 59.5, 0.75) is None
    assert run(129.5, 1.0, 0.69) is None  # just below the threshold
    assert run(130.5, 61.0, 0.9) == pytest.approx(190.5)


def test_no_return_is_judged_only_while_the_driver_can_be_seen():
    h = Harness(Config(alerts=AlertsConfig(unresponsive_s=60.0)))
    h.feed(1.0, DRIVING)
    h.feed(5.5, LOOKING_AWAY)  # warned at 4.0 s
    h.feed(0.8, Frame(closed=None, pose=None, quality=0.1))  # a poor face from 6.5 to 7.3 s: cannot tell
    assert h.first("unresponsive") is None
    h.feed(1, LOOKING_AWAY)  # seen again, still away, 3.3 s after the warning
    assert h.first("unresponsive")[0] == pytest.approx(7.3)


def test_absence_is_not_measured_across_a_camera_outage():
    h = Harness()
    h.feed(1.0, DRIVING)
    h.feed(3.0, NO_FACE)
    h.feed(2.0, CAMERA_DOWN)
    h.feed(inclusive(4.9), NO_FACE)  # 3 + 4.9 s without a face, but never 5 s seen without one
    assert h.first("driver_not_visible") is None
    h.feed(3, NO_FACE)
    assert h.first("driver_not_visible")[0] == pytest.approx(6.0 + 5.0)
