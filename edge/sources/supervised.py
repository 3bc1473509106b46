"""The supervised live source under the camera, the serial sensor and the microphone.

One named daemon thread opens the device and pumps it. A device error never ends the thread: it reports the reason
(health says "unavailable" and why), waits out an exponential backoff (reopen_initial_s doubling up to
reopen_max_s, back to reopen_initial_s after an opening that delivered data) and opens the device again. Should the
thread end anyway (a BaseException: SystemExit, KeyboardInterrupt, …), health reports it and its reason. A reason
repeated every backoff (no device in this vehicle) is logged once as a warning, then at debug level.

A source implements opening and pumping its device (`_open_and_pump`), its own part of the state decision
(`_device_state`: starting, ok, silent, or a stall) and its counters (`_metrics`); the base does the rest.
"""

from __future__ import annotations

import logging
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from edge.sources.timing import MAX_WAIT_S

# disabled: not configured, no thread; silent: the device is open but says nothing (serial only).
SourceState = Literal["disabled", "starting", "ok", "silent", "unavailable", "stopped"]

_Source = TypeVar("_Source", bound="SupervisedSource")


@dataclass(frozen=True, slots=True)
class SourceHealth:
    state: SourceState
    detail: str | None  # why it is not ok, as the health message says it; None when ok
    reopens: int  # times the device was opened again after a failure
    errors: int  # failures of any kind: open, read, stall, unexpected exceptions, the thread's end
    metrics: dict[str, Any] = field(default_factory=dict)  # the source's counters under their health names
    last_error: str | None = None  # the latest failure reported, kept after recovery (not published)


class SourceFailure(Exception):
    """A device failure the thread reports and recovers from by reopening; the message names the device."""

    def __init__(self, message: str, delivered: bool = False):
        super().__init__(message)
        self.delivered = delivered  # this opening delivered data before it failed: the backoff starts over


class SupervisedSource(ABC):
    """A live source on its own daemon thread, reopened with backoff on failure; see the module docstring.

    `self._lock` (a Condition) guards the state below and whatever the subclass keeps for health(); health() and
    the hooks it calls (`_device_state`, `_metrics`, `_detail`, `_death_detail`) run under it.
    """

    thread_name: ClassVar[str]  # also names the source in the log: "unexpected camera error"
    _log: ClassVar[logging.Logger]
    _thread_role: ClassVar[str] = "capture"  # "the capture thread stopped unexpectedly"
    _unavailable_note: ClassVar[str]  # the warning's tail: "<reason>; camera unavailable"
    _traceback_level: ClassVar[int] = logging.ERROR  # an unexpected exception's traceback, when first seen
    _disabled_detail: ClassVar[str] = "disabled"

    def __init__(
        self,
        subject: str,
        clock: Callable[[], float],
        reopen_initial_s: float,
        reopen_max_s: float,
        join_timeout_s: float,
    ):
        """`subject` names the device in messages ("camera source '0'"); the times are already safe (timing.py)."""
        self._subject = subject
        self._clock = clock
        self._reopen_initial = reopen_initial_s
        self._reopen_max = max(reopen_initial_s, reopen_max_s)
        self._join_timeout = join_timeout_s
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Guarded by self._lock.
        self._failing = False
        self._last_error: str | None = None
        self._reopens = 0
        self._errors = 0
        self._death: str | None = None  # why the thread ended, if it ended without stop()

    # -- the subclass's part ----------------------------------------------------------------------------------

    @abstractmethod
    def _open_and_pump(self) -> bool:
        """Open the device and pump it until stop (or a clean end, e.g. a file's: it is reopened at once). Returns
        whether data came; raises SourceFailure (or anything else, reported as unexpected) on failure."""

    @abstractmethod
    def _device_state(self, now: float) -> tuple[SourceState, str | None]:
        """The state of an enabled source that is not stopped, dead or failing (it may not have started yet), and
        the reason that goes with it."""

    @abstractmethod
    def _metrics(self, now: float) -> dict[str, Any]:
        """The counters health publishes, under their published names (source_component rounds floats to 3
        decimals)."""

    @property
    def enabled(self) -> bool:
        """False: not configured; start() starts nothing and health says "disabled"."""
        return True

    def _before_start(self) -> None:
        """Runs on the caller's thread in start(), before the source's thread exists."""

    def _reopening(self) -> None:
        """Runs on the thread after a failure's backoff, just before the device is opened again."""

    def _detail(self, state: SourceState, reason: str | None) -> str | None:
        """The published detail for `state` and its reason (the failure, or the source's own words)."""
        return None if state == "ok" else reason

    def _death_detail(self) -> str:
        text = f"{self._subject}: the {self._thread_role} thread stopped unexpectedly"
        return text if self._death is None else f"{text} ({self._death})"

    # -- the consumer's side ----------------------------------------------------------------------------------

    def start(self: _Source) -> _Source:
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        if not self.enabled:
            return self
        self._before_start()
        thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        thread.start()
        self._thread = thread  # set once started: health() takes a thread that is not alive for a dead one
        return self

    def stop(self) -> None:
        """Stop the thread, wait (bounded) for it to release the device, and wake anyone waiting on the lock."""
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            # A read blocked inside a driver cannot be interrupted; it returns within its own timeout.
            self._thread.join(timeout=self._join_timeout)
            if self._thread.is_alive():
                self._log.error("%s thread did not stop within %.1f s", self.thread_name, self._join_timeout)

    def __enter__(self: _Source) -> _Source:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def health(self) -> SourceHealth:
        with self._lock:
            now = self._clock()
            state, reason = self._verdict(now)
            return SourceHealth(
                state=state,
                detail=self._detail(state, reason),
                reopens=self._reopens,
                errors=self._errors,
                metrics=self._metrics(now),
                last_error=self._last_error,
            )

    def _verdict(self, now: float) -> tuple[SourceState, str | None]:
        if not self.enabled:
            return "disabled", self._disabled_detail
        if self._stop.is_set():
            return "stopped", self._last_error
        if self._thread is not None and not self._thread.is_alive():
            return "unavailable", self._death_detail()
        if self._failing:
            return "unavailable", self._last_error
        return self._device_state(now)

    # -- the source's thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self._reopen_initial
        try:
            while not self._stop.is_set():
                try:
                    backoff = self._cycle(backoff)
                except Exception as err:  # noqa: BLE001 - even a failure while recovering must not end the thread
                    backoff = self._reopen_max
                    try:
                        self._report_failure(err)
                    except Exception:  # noqa: BLE001
                        pass
                    self._wait(backoff)
        except BaseException as err:  # noqa: BLE001 - not an Exception (SystemExit, …): the thread ends here
            with self._lock:
                self._errors += 1
                self._death = f"{type(err).__name__}: {err}"
            self._log.critical("%s %s thread stopped unexpectedly", self.thread_name, self._thread_role, exc_info=True)
        finally:
            with self._lock:
                self._lock.notify_all()

    def _cycle(self, backoff: float) -> float:
        """One opening; on failure report it and wait out the backoff. Returns the next backoff."""
        try:
            delivered = self._open_and_pump()
        except Exception as err:  # noqa: BLE001 - the thread must survive anything a driver throws
            self._report_failure(err)
            if isinstance(err, SourceFailure) and err.delivered:
                backoff = self._reopen_initial
            if self._wait(backoff):
                return backoff
            self._reopening()
            return min(backoff * 2.0, self._reopen_max)
        # A clean end (a file's) is reopened at once; or stop was set.
        return self._reopen_initial if delivered else backoff

    def _wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (clamped to what Event.wait accepts) or until stop(); True once stopping."""
        return self._stop.wait(0.0 if math.isnan(seconds) else min(max(0.0, seconds), MAX_WAIT_S))

    def _report_failure(self, err: Exception) -> None:
        expected = isinstance(err, SourceFailure)
        message = str(err) if expected else f"{self._subject}: {type(err).__name__}: {err}"
        with self._lock:
            repeated = self._failing and message == self._last_error
            self._errors += 1
            self._failing = True
            self._last_error = message
        if not expected:
            level = logging.DEBUG if repeated else self._traceback_level
            self._log.log(level, "unexpected %s error", self.thread_name, exc_info=err)
        # The same reason every backoff (no device in this vehicle) is logged once, then at debug level.
        self._log.log(logging.DEBUG if repeated else logging.WARNING, "%s; %s", message, self._unavailable_note)
