"""The rate-limited fault logger: a repeated fault logs once, then one summary per interval, with a count."""

from __future__ import annotations

import logging

from edge.faultlog import FaultLog

LOG = logging.getLogger("test.faultlog")
SUMMARY = "outbox writes failing: {n} events in the last {s:.0f} s kept in memory"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOG.name]


def test_logs_once_then_one_summary_per_interval(caplog):
    clock = Clock()
    faults = FaultLog(LOG, interval_s=60.0, clock=clock)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        faults.fault("persist", "outbox write failed (%s)", "disk full", kind="disk full", summary=SUMMARY)
        for _ in range(70):  # 75 s of events, one a second: quiet until the interval has passed
            clock.t += 59 / 70
            faults.fault("persist", "outbox write failed (%s)", "disk full", kind="disk full", summary=SUMMARY)
        assert lines(caplog) == ["outbox write failed (disk full)"]
        clock.t += 1.0
        faults.fault("persist", "outbox write failed (%s)", "disk full", kind="disk full", summary=SUMMARY)
        assert lines(caplog)[1:] == ["outbox writes failing: 71 events in the last 60 s kept in memory"]
        assert all(r.levelno == logging.ERROR for r in caplog.records)
        for _ in range(3):
            clock.t += 1.0
            faults.fault("persist", "outbox write failed (%s)", "disk full", kind="disk full", summary=SUMMARY)
        assert len(lines(caplog)) == 2  # the next summary waits for the next interval


def test_a_new_kind_logs_at_once_and_clear_summarises_the_rest(caplog):
    clock = Clock()
    faults = FaultLog(LOG, interval_s=60.0, clock=clock)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        faults.fault("persist", "write failed: full", kind="full", summary=SUMMARY)
        clock.t += 5
        faults.fault("persist", "write failed: full", kind="full", summary=SUMMARY)
        clock.t += 5
        faults.fault("persist", "write failed: I/O error", kind="io", summary=SUMMARY)  # another error
        faults.fault("delete", "delete failed", level=logging.WARNING)  # another fault: its own key
        assert lines(caplog) == [
            "write failed: full",
            "outbox writes failing: 1 events in the last 10 s kept in memory",  # the repeat of the kind before
            "write failed: I/O error",
            "delete failed",
        ]
        clock.t += 20
        faults.fault("persist", "write failed: I/O error", kind="io", summary=SUMMARY)
        assert faults.active("persist")
        assert faults.clear("persist", "durable again")
        assert lines(caplog)[4:] == ["outbox writes failing: 1 events in the last 20 s kept in memory", "durable again"]
        assert not faults.active("persist") and not faults.clear("persist", "not logged")
        faults.fault("persist", "write failed: full", kind="full", summary=SUMMARY)  # after a clear: at once
        assert lines(caplog)[-1] == "write failed: full" and len(lines(caplog)) == 7
