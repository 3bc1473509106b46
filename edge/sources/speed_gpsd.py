"""The vehicle's speed from gpsd (https://gpsd.io), through `gpsdclient` (PyPI): a small, maintained client of
gpsd's JSON protocol that only connects, sends ?WATCH and yields the reports. Its speed is the receiver's
ground speed (TPV `speed`, m/s), which is good to ~0.5 km/h while moving and jitters at rest (see
[speed] standing_kmh).

gpsd says nothing while it has no receiver, so its socket's timeout (speed.silent_after_s) ends the connection and
the base reconnects with backoff; a receiver without a fix (TPV mode < 2: a tunnel, a garage) is silent.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from edge.config import SpeedConfig
from edge.sources.speed import SpeedSource
from edge.sources.supervised import SourceFailure

MS_TO_KMH = 3.6


class GpsdSpeedSource(SpeedSource):
    name = "gpsd"

    def __init__(self, cfg: SpeedConfig, clock: Callable[[], float] = time.monotonic):
        super().__init__(cfg, f"gpsd {cfg.gpsd_host}:{cfg.gpsd_port}", clock, join_timeout_s=cfg.silent_after_s + 2.0)
        self._client: Any = None  # the open GPSDClient, so stop() can shut its socket and end a blocked read
        self._no_fix = 0

    def stop(self) -> None:
        self._stop.set()
        client = self._client
        sock = getattr(client, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the reader at once instead of after its timeout
            except OSError:
                pass
        super().stop()

    def _open_and_pump(self) -> bool:
        from gpsdclient import GPSDClient  # the `vehicle` extra; checked when the modality is built

        client = GPSDClient(self.cfg.gpsd_host, self.cfg.gpsd_port, timeout=self._silent_after)
        self._client = client
        before = self._readings
        try:
            for report in client.dict_stream(convert_datetime=False, filter=["VERSION", "TPV"]):
                if self._stop.is_set():
                    break
                if report.get("class") == "VERSION":
                    self._opened()  # gpsd answered (its banner): open, whether or not a receiver reports yet
                    continue
                self._tpv(report)
            else:
                if self._stop.is_set():  # stop() shut the socket: the end of the stream is ours, not a failure
                    return self._readings > before
                raise SourceFailure(f"{self._subject}: gpsd closed the connection", self._readings > before)
            return self._readings > before
        except (OSError, ValueError) as err:  # refused, timeout (no report), not gpsd (EnvironmentError), bad JSON
            if self._stop.is_set():
                return self._readings > before
            what = "no report" if isinstance(err, socket.timeout) else f"{type(err).__name__}: {err}"
            raise SourceFailure(f"{self._subject}: {what}", self._readings > before) from None
        finally:
            self._closed()
            self._client = None
            client.close()

    def _tpv(self, report: dict[str, Any]) -> None:
        mode = report.get("mode")
        if not isinstance(mode, int) or mode < 2:
            with self._lock:
                self._no_fix += 1  # no fix: no speed, not a bad input
            return
        speed = report.get("speed")
        if speed is None:
            return  # a fix whose report carries no speed (some receivers' first cycle)
        if isinstance(speed, bool) or not isinstance(speed, (int, float)):
            self._bad_input(f"TPV speed {speed!r}")
            return
        try:
            kmh = speed * MS_TO_KMH
        except OverflowError:  # an integer of hundreds of digits
            self._bad_input(f"TPV speed {speed!r:.40}")
            return
        self._accept(kmh)

    def _silence_hint(self) -> str:
        return f" ({self._no_fix} reports without a fix)" if self._no_fix else super()._silence_hint()

    def _metrics(self, now: float) -> dict[str, Any]:
        return {**super()._metrics(now), "no_fix": self._no_fix}
