"""SupervisedSource, the base of the camera, the serial sensor and the microphone, on a scripted device: the
backoff, the failure log, a thread that dies, and start/stop from every state."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from edge.sources.supervised import SourceFailure, SourceState, SupervisedSource
from tests.polling import wait_until

LOGGER = "edge.test.scripted"


class Fatal(BaseException):
    """Not an Exception: the one kind of error the thread does not recover from."""


class Scripted(SupervisedSource):
    """Each opening takes the next step: an exception is raised, True/False is returned (a clean end, with or
    without data). With no steps left the device works until stop(). `record_waits` records each backoff instead
    of sleeping it, so the test sees the exact sequence without waiting for it."""

    thread_name = "scripted"
    _log = logging.getLogger(LOGGER)
    _unavailable_note = "scripted device unavailable"
    _disabled_detail = "not configured"

    def __init__(self, steps: list[Any], record_waits: bool = True, enabled: bool = True, initial: float = 0.1,
                 maximum: float = 0.4):
        super().__init__("scripted device", time.monotonic, initial, maximum, join_timeout_s=5.0)
        self.steps = list(steps)
        self.record_waits = record_waits
        self._enabled = enabled
        self.waits: list[float] = []
        self.working = threading.Event()

    @property
    def enabled(self) -> bool:
        return self._enabled

    def _open_and_pump(self) -> bool:
        if self.steps:
            step = self.steps.pop(0)
            if isinstance(step, BaseException):
                raise step
            return bool(step)
        with self._lock:
            self._failing = False  # open: what a real source does once its device works again
        self.working.set()
        self._stop.wait()
        return True

    def _wait(self, seconds: float) -> bool:
        if not self.record_waits:
            return super()._wait(seconds)
        self.waits.append(seconds)
        return self._stop.is_set()

    def _device_state(self, now: float) -> tuple[SourceState, str | None]:
        return ("ok" if self.working.is_set() else "starting"), None

    def _metrics(self, now: float) -> dict[str, Any]:
        return {"steps_left": len(self.steps)}


def gone(delivered: bool = False) -> SourceFailure:
    return SourceFailure("scripted device: gone", delivered)


def test_backoff_doubles_up_to_the_max_and_starts_over_after_data() -> None:
    steps = [gone(), gone(), gone(), gone(), gone(delivered=True), gone(), gone(), True, gone()]
    with Scripted(steps) as src:
        assert wait_until(src.working.is_set)
        # 4 failures double 0.1 up to the 0.4 max; one that had delivered data starts over at 0.1; a clean end
        # (a file's) is reopened at once and starts over too.
        assert src.waits == pytest.approx([0.1, 0.2, 0.4, 0.4, 0.1, 0.2, 0.4, 0.1])
        health = src.health()
        assert health.state == "ok" and health.detail is None and health.errors == 8 and health.reopens == 0
        assert health.last_error == "scripted device: gone" and health.metrics == {"steps_left": 0}


def test_a_failing_source_is_unavailable_with_the_reason() -> None:
    src = Scripted([gone()] * 1000, record_waits=False, initial=3600.0, maximum=3600.0)  # waits out one backoff
    with src:
        assert wait_until(lambda: src.health().errors == 1)
        health = src.health()
        assert health.state == "unavailable" and health.detail == "scripted device: gone"
    assert src.health().state == "stopped"


def test_a_thread_ended_by_a_base_exception_is_reported_unavailable_with_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Scripted([gone(), Fatal("out of this world")]) as src:
        assert wait_until(lambda: src._thread is not None and not src._thread.is_alive())
        health = src.health()
        assert health.state == "unavailable" and health.errors == 2
        assert health.detail == "scripted device: the capture thread stopped unexpectedly (Fatal: out of this world)"
        assert any(r.levelno == logging.CRITICAL and "scripted capture thread stopped unexpectedly" in r.getMessage()
                   for r in caplog.records)
    assert src.health().state == "stopped"


@pytest.mark.parametrize("where", ["never started", "disabled", "working", "in a long backoff", "dead", "stopped"])
def test_stop_from_any_state(where: str) -> None:
    steps: list[Any] = {"in a long backoff": [gone()] * 10, "dead": [Fatal("x")]}.get(where, [])
    src = Scripted(steps, record_waits=False, enabled=where != "disabled", initial=3600.0, maximum=3600.0)
    if where != "never started":
        src.start()
    if where == "working":
        assert wait_until(src.working.is_set)
    elif where == "in a long backoff":
        assert wait_until(lambda: src.health().errors == 1)
    elif where == "dead":
        assert wait_until(lambda: src._thread is not None and not src._thread.is_alive())
    elif where == "stopped":
        src.stop()
    started = time.monotonic()
    src.stop()
    assert time.monotonic() - started < 4.0  # stop() interrupts the backoff; no join runs into its timeout
    assert src._thread is None or not src._thread.is_alive()
    assert not any(t.name == "scripted" for t in threading.enumerate())
    assert src.health().state == ("disabled" if where == "disabled" else "stopped")


def test_start_twice_is_refused_and_a_disabled_source_starts_nothing() -> None:
    with Scripted([]) as src:
        with pytest.raises(RuntimeError, match="Scripted already started"):
            src.start()
    off = Scripted([], enabled=False).start()
    assert off._thread is None
    assert (off.health().state, off.health().detail) == ("disabled", "not configured")


def test_a_repeated_reason_is_logged_once_as_a_warning_then_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    steps = [gone()] * 5 + [SourceFailure("scripted device: other")] + [RuntimeError("bug")] * 2
    with Scripted(steps) as src:
        assert wait_until(src.working.is_set)

    def records(level: int, text: str) -> int:
        return sum(1 for r in caplog.records if r.levelno == level and text in r.getMessage())

    assert records(logging.WARNING, "scripted device: gone; scripted device unavailable") == 1
    assert records(logging.DEBUG, "scripted device: gone; scripted device unavailable") == 4
    assert records(logging.WARNING, "scripted device: other; scripted device unavailable") == 1  # a new reason
    # An unexpected exception is named with the device, and its traceback is logged (at ERROR the first time).
    assert records(logging.WARNING, "scripted device: RuntimeError: bug; scripted device unavailable") == 1
    assert records(logging.ERROR, "unexpected scripted error") == 1
    assert records(logging.DEBUG, "unexpected scripted error") == 1
    assert src.health().errors == 8
