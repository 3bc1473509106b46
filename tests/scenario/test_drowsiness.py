"""The drowsiness policy driven by time vectors, at the boundaries of each rule."""

from __future__ import annotations

import math

import pytest

from edge.config import DrowsinessConfig, EyesConfig
from edge.monitor.drowsiness import DrowsinessMonitor, DrowsinessSample, DrowsinessState

FPS = 30.0
OPEN, CLOSED = 0.05, 0.95


def monitor(**overrides) -> DrowsinessMonitor:
    return DrowsinessMonitor(DrowsinessConfig(**overrides), EyesConfig())


def feed(m: DrowsinessMonitor, segments, t0: float = 0.0, mar=0.05, pitch=0.0) -> list[DrowsinessState]:
    """segments: (seconds, eyes_closed_prob or None) at FPS; returns every state."""
    states, t = [], t0
    for seconds, p in segments:
        for _ in range(int(round(seconds * FPS))):
            states.append(m.step(DrowsinessSample(t, p, mar, pitch)))
            t += 1.0 / FPS
    return states


def kinds(states) -> list[str]:
    return [e.kind for s in states for e in s.episodes]


def test_a_300_ms_blink_is_a_blink():
    m = monitor()
    states = feed(m, [(1.0, OPEN), (0.3, CLOSED), (1.0, OPEN)])
    (blink,) = [e for s in states for e in s.episodes]
    assert blink.kind == "blink" and blink.duration == pytest.approx(0.3, abs=1e-6)
    assert states[-1].blinks == 1 and states[-1].long_blinks == 0 and states[-1].microsleeps == 0


@pytest.mark.parametrize("frames, kind", [(14, "blink"), (15, "long_blink"), (29, "long_blink")])
def test_long_blink_boundary(frames, kind):
    """At 30 fps: 14 closed frames = 0.467 s, 15 = 0.5 s (long), 29 = 0.967 s (still not a microsleep)."""
    m = monitor()
    states = feed(m, [(1.0, OPEN), (frames / FPS, CLOSED), (1.0, OPEN)])
    assert kinds(states) == [kind]


def test_microsleep_at_one_second_and_not_before():
    m = monitor()
    states = feed(m, [(1.0, OPEN), (2.0, CLOSED)])
    first = next(s for s in states if s.episodes)
    (episode,) = first.episodes
    assert episode.kind == "microsleep" and first.closure_s == pytest.approx(1.0, abs=1e-6)
    # the frame before had been closed for 29/30 s: nothing yet
    before = states[states.index(first) - 1]
    assert before.closure_s < 1.0 and before.microsleeps == 0 and before.eyes_closed
    assert states[-1].microsleeps == 1 and states[-1].sleeps == 0


def test_sleep_at_three_seconds_then_the_closure_ends():
    m = monitor()
    states = feed(m, [(1.0, OPEN), (3.5, CLOSED), (1.0, OPEN)])
    assert kinds(states) == ["microsleep", "sleep", "closure_end"]
    sleep_state = next(s for s in states if any(e.kind == "sleep" for e in s.episodes))
    assert sleep_state.closure_s == pytest.approx(3.0, abs=1e-6)
    end = states[-1]
    assert end.microsleeps == 1 and end.sleeps == 1 and end.blinks == 0 and end.long_blinks == 0
    assert not end.eyes_closed and end.closure_s == 0.0


def test_hysteresis_keeps_a_closure_through_flicker():
    m = monitor()
    # 0.5 sits between the open (0.4) and closed (0.6) thresholds: neither starts nor ends a closure
    states = feed(m, [(1.0, OPEN), (0.6, CLOSED), (0.2, 0.5), (0.4, CLOSED), (0.5, OPEN)])
    assert kinds(states) == ["microsleep", "closure_end"]


def test_perclos_of_a_known_pattern():
    """One 0.6 s closure every 2 s (0.2 s open in between... 1.4 s open): PERCLOS = 0.3."""
    m = monitor()
    states = feed(m, [(1.4, OPEN), (0.6, CLOSED)] * 40)  # 80 s
    assert states[-1].perclos == pytest.approx(0.3, abs=0.02)
    # 30 long blinks a minute (0.6 s >= 0.5 s) and no plain blinks
    assert states[-1].blink_rate_per_min == pytest.approx(30.0, abs=1.5)
    assert states[-1].kss == 9.0 and states[-1].level == "very_drowsy"


def test_alert_driver_is_alert():
    m = monitor()
    # a 200 ms blink every 4 s: 15 blinks/min, PERCLOS 0.05
    states = feed(m, [(3.8, OPEN), (0.2, CLOSED)] * 20 + [(0.5, OPEN)])
    last = states[-1]
    assert last.perclos == pytest.approx(0.05, abs=0.01)
    assert last.kss == pytest.approx(3.0 + 0.05 / 0.15 * 4, abs=0.2) and last.level == "alert"
    assert last.blinks == 20 and last.microsleeps == 0


def test_nothing_is_reported_before_enough_visible_time():
    m = monitor()
    states = feed(m, [(29.0, OPEN)])
    assert states[-1].perclos is None and states[-1].kss is None and states[-1].level == "unknown"
    assert feed(m, [(2.0, OPEN)], t0=29.0)[-1].level == "alert"


def test_eyes_not_visible_never_raise_drowsiness():
    m = monitor()
    # a minute behind dark glasses, then a closure that is interrupted by not seeing the eyes
    states = feed(m, [(60.0, None), (0.8, CLOSED), (3.0, None), (1.0, OPEN)])
    last = states[-1]
    assert last.microsleeps == 0 and last.sleeps == 0 and last.long_blinks == 0 and last.blinks == 0
    assert last.kss is None and last.level == "unknown"
    assert all(not s.eyes_closed for s in states if s.t >= 60.8)


def test_not_visible_time_is_left_out_of_perclos():
    m = monitor()
    states = feed(m, [(1.4, OPEN), (0.6, CLOSED)] * 10 + [(30.0, None)] + [(1.4, OPEN), (0.6, CLOSED)] * 10)
    assert states[-1].perclos == pytest.approx(0.3, abs=0.02)


def _mar_series(m, values, t0=0.0):
    return [m.step(DrowsinessSample(t0 + i / FPS, OPEN, v, 0.0)) for i, v in enumerate(values)]


def test_a_yawn_held_one_second_is_a_yawn():
    """Real drivers yawn for 1.5-4.3 s (realclips), and a short one counts too."""
    m = monitor()
    mars = [0.05] * 30 + [0.7] * int(1.2 * FPS) + [0.05] * 30
    states = _mar_series(m, mars)
    assert kinds(states) == ["yawn"] and states[-1].yawns == 1
    yawn = next(e for s in states for e in s.episodes)
    assert yawn.duration == pytest.approx(1.0, abs=1e-6)


def test_a_wide_mouth_for_less_than_one_second_is_not_a_yawn():
    m = monitor()
    states = _mar_series(m, [0.05] * 30 + [0.7] * int(0.9 * FPS) + [0.05] * 30)
    assert states[-1].yawns == 0


def test_a_yawn_that_narrows_but_stays_open_is_one_yawn():
    m = monitor()
    states = _mar_series(m, [0.05] * 30 + [0.7] * 20 + [0.4] * 20 + [0.8] * 30 + [0.05] * 30)
    assert states[-1].yawns == 1


def test_talking_is_not_a_yawn():
    """Speech opens and closes the mouth 3-5 times a second, sometimes wide, for a minute."""
    m = monitor()
    mars = [0.3 + 0.3 * math.sin(2 * math.pi * 4.0 * i / FPS) for i in range(int(60 * FPS))]
    states = _mar_series(m, mars)
    assert states[-1].yawns == 0


def test_a_nod_is_a_drop_and_return():
    m = monitor()
    pitch = [-5.0] * int(20 * FPS) + [-25.0] * int(0.8 * FPS) + [-5.0] * int(5 * FPS)
    states = [m.step(DrowsinessSample(i / FPS, OPEN, 0.05, p)) for i, p in enumerate(pitch)]
    assert states[-1].nods == 1


def test_looking_down_for_long_is_not_a_nod():
    m = monitor()
    pitch = [-5.0] * int(20 * FPS) + [-25.0] * int(4 * FPS) + [-5.0] * int(5 * FPS)
    states = [m.step(DrowsinessSample(i / FPS, OPEN, 0.05, p)) for i, p in enumerate(pitch)]
    assert states[-1].nods == 0


def test_microsleep_makes_the_driver_very_drowsy():
    m = monitor()
    states = feed(m, [(40.0, OPEN), (1.2, CLOSED), (10.0, OPEN)])
    assert states[-1].level == "very_drowsy" and states[-1].kss >= 8.0
