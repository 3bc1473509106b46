"""sd_notify(3) without libsystemd: readiness, status, watchdog and stop/reload notices over $NOTIFY_SOCKET.

Without $NOTIFY_SOCKET (run by hand, in tests, in a container) every method is a cheap no-op, so the daemon calls
them unconditionally. A send never raises: losing the notify socket must not take the daemon down with it (systemd
notices a missing watchdog ping on its own).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def _socket_address(value: str) -> str | None:
    """A filesystem path, or "@name" for Linux's abstract namespace (a leading NUL byte on the wire)."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    return None  # e.g. systemd 254's "vsock:CID:PORT" for VMs: not needed on a vehicle board


def _watchdog_usec(env: Mapping[str, str], pid: int) -> int | None:
    """WATCHDOG_USEC when the watchdog is meant for this process (WATCHDOG_PID unset or equal to our pid)."""
    owner = env.get("WATCHDOG_PID")
    if owner is not None:
        try:
            if int(owner) != pid:
                return None  # inherited from a parent that is the watched process: pinging would lie
        except ValueError:
            return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec if usec > 0 else None


class Notifier:
    """Sends notifications to systemd; every method is safe to call from any thread, with or without systemd."""

    def __init__(self, address: str | None = None, watchdog_usec: int | None = None):
        self._address = address
        self._watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failing = False  # the first failure of a streak is logged; the rest would flood the journal

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, pid: int | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        address = _socket_address(raw) if raw else None
        if raw and address is None:
            log.warning("NOTIFY_SOCKET=%r is not a unix socket path or @abstract name: not notifying systemd", raw)
        return cls(address, _watchdog_usec(env, os.getpid() if pid is None else pid))

    @property
    def enabled(self) -> bool:
        """Whether a notify socket was given (the service runs under systemd with Type=notify)."""
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to call watchdog(): half of WatchdogSec, as sd_watchdog_enabled(3) advises; None: no watchdog."""
        if self._address is None or self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 2_000_000.0

    def ready(self, status: str | None = None) -> bool:
        """Start-up is complete (Type=notify: systemd starts the units that wait for us). Also ends a reload."""
        return self.notify("READY=1", *self._status_line(status))

    def status(self, text: str) -> bool:
        """A one-line status shown by `systemctl status dms`."""
        return self.notify(*self._status_line(text))

    def watchdog(self) -> bool:
        """Keep-alive ping; only sent when the watchdog is enabled for this process."""
        if self.watchdog_interval_s is None:
            return False
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *self._status_line(status))

    def reloading(self, status: str | None = None) -> bool:
        """A reload began; call ready() when it is done. MONOTONIC_USEC (CLOCK_MONOTONIC, which is what Python's
        time.monotonic() reads on Linux) lets systemd 253+ match it to `systemctl reload` with Type=notify-reload;
        older systemd and Type=notify ignore the extra field."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", *self._status_line(status))

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more start/stop time (slow model load, Argus camera start) beyond TimeoutStartSec/StopSec."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(1, int(seconds * 1_000_000))}")

    def notify(self, *assignments: str) -> bool:
        """Send newline-separated VAR=value assignments in one datagram. True if sent; never raises."""
        if self._address is None or not assignments:
            return False
        data = "\n".join(assignments).encode("utf-8", "replace")
        with self._lock:
            try:
                if self._sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                    try:
                        sock.connect(self._address)
                    except OSError:
                        sock.close()
                        raise
                    self._sock = sock
                # Never block: a notify socket whose queue is full (a stuck or fake receiver) must not hang the
                # daemon's main loop; a dropped message is the lesser harm.
                self._sock.send(data, socket.MSG_DONTWAIT)
            except BlockingIOError:
                if not self._failing:
                    self._failing = True
                    log.warning("sd_notify to %s: queue full, message dropped", self._printable_address())
                return False
            except OSError as err:
                # Drop the socket: if systemd re-creates it (daemon-reexec), the next call connects afresh.
                self._close_locked()
                if not self._failing:
                    self._failing = True
                    log.warning("sd_notify to %s failed: %s (further failures are not logged)",
                                self._printable_address(), err)
                return False
            if self._failing:
                self._failing = False
                log.info("sd_notify to %s works again", self._printable_address())
            return True

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _printable_address(self) -> str:
        a = self._address or ""
        return "@" + a[1:] if a.startswith("\0") else a

    @staticmethod
    def _status_line(text: str | None) -> tuple[str, ...]:
        # One datagram holds newline-separated assignments: a newline inside the text would start a bogus one.
        return () if text is None else ("STATUS=" + text.replace("\r", " ").replace("\n", " "),)
