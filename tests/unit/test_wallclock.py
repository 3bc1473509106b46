"""Wall times follow a step of the system clock (NTP after a boot without RTC); a replay keeps its drive's offset."""

from __future__ import annotations

import logging

from edge.wallclock import WallClock, iso_or_none, wall_iso

YEAR = 365 * 86400.0


def test_live_wall_times_follow_a_step_and_health_counts_it(caplog):
    offset = [1.7e9]
    clock = WallClock(read_offset=lambda: offset[0])
    assert iso_or_none(10.0, clock.offset()) == wall_iso(1.7e9 + 10.0)
    offset[0] += 0.0004  # slewing: followed, not a step
    assert clock.offset() == 1.7e9 + 0.0004 and clock.metrics() == {"clock_steps": 0, "last_clock_step_s": None}
    offset[0] += YEAR  # NTP steps a clock that booted a year behind
    with caplog.at_level(logging.WARNING, logger="edge.clock"):
        assert iso_or_none(20.0, clock.offset()) == wall_iso(1.7e9 + 0.0004 + YEAR + 20.0)
    assert clock.metrics() == {"clock_steps": 1, "last_clock_step_s": YEAR}
    assert "stepped by +31536000.000 s" in caplog.text
    offset[0] -= 5.0  # and back a little: a second step, counted when health asks even with no event since
    assert clock.metrics() == {"clock_steps": 2, "last_clock_step_s": -5.0}


def test_a_replay_keeps_its_drives_offset():
    clock = WallClock(fixed_offset=1.6e9, read_offset=lambda: 1 / 0)  # never read
    assert iso_or_none(1.5, clock.offset()) == "2020-09-13T12:26:41.500Z"
    assert clock.metrics() == {"clock_steps": 0, "last_clock_step_s": None}


def test_what_has_no_wall_time_is_null():
    for t in (None, "3", True, float("nan"), float("inf"), 1e300):
        assert iso_or_none(t, 1.7e9) is None
