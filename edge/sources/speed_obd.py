"""The vehicle's speed from the OBD-II port through an ELM327 adapter (USB, or Bluetooth as /dev/rfcomm0), with
python-OBD (PyPI `obd`): it does the ELM327 set-up (reset, echo and headers, protocol search) and decodes the
answers; this source asks for PID 0x0D (vehicle speed, km/h, 1 km/h resolution) at speed.obd_poll_hz, decoding
it itself (see speed_command).

An adapter that does not reach the car (ignition off, no protocol) is a failure, retried with backoff; an answer
that is no speed ("NO DATA", a garbled frame) is counted as bad and skipped; a port that vanishes (USB unplugged)
ends the connection and the base reopens it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from edge.config import SpeedConfig
from edge.sources.speed import SpeedSource
from edge.sources.supervised import SourceFailure

# python-OBD reads its port with a fixed 10 s timeout: an adapter that stops answering holds a query that long.
_OBD_READ_TIMEOUT_S = 10.0


def decode_speed(messages: Any) -> int | None:
    """PID 0x0D's answer: mode 0x41, PID 0x0D, then one byte, km/h. None for an answer cut short."""
    data = bytes(messages[0].data) if messages else b""
    return data[2] if len(data) >= 3 and data[:2] == b"\x41\x0d" else None


def speed_command() -> Any:
    """PID 0x0D with a length check. python-OBD's own SPEED pads a short answer with zero bytes (OBDCommand's
    "Padded message"), so a frame cut short would read 0 km/h: standing still, silencing distraction alerts."""
    import obd

    return obd.OBDCommand("SPEED", "Vehicle speed (length checked)", b"010D", 0, decode_speed, obd.ECU.ENGINE)


class ObdSpeedSource(SpeedSource):
    name = "obd"

    def __init__(self, cfg: SpeedConfig, clock: Callable[[], float] = time.monotonic):
        super().__init__(cfg, f"OBD adapter {cfg.obd_port!r}", clock, join_timeout_s=_OBD_READ_TIMEOUT_S + 2.0)

    def _open_and_pump(self) -> bool:
        import obd  # the `vehicle` extra; checked when the modality is built

        # python-OBD sets its own level on import and logs every failed attempt (each read of an unplugged port);
        # the base reports a failure once, with backoff.
        logging.getLogger("obd").setLevel(logging.CRITICAL + 1)
        port = self.cfg.obd_port or ""
        if not os.path.exists(port):
            raise SourceFailure(f"{self._subject}: no such port")
        connection = obd.OBD(port, baudrate=self.cfg.obd_baudrate, protocol=self.cfg.obd_protocol, fast=False,
                             check_voltage=False)
        before = self._readings
        try:
            if connection.status() != obd.OBDStatus.CAR_CONNECTED:
                raise SourceFailure(f"{self._subject}: {connection.status()}")
            self._opened()
            period = 1.0 / self.cfg.obd_poll_hz
            command = speed_command()
            while not self._stop.is_set():
                started = self._clock()
                response = connection.query(command, force=True)
                if connection.status() == obd.OBDStatus.NOT_CONNECTED:
                    raise SourceFailure(f"{self._subject}: the adapter is gone", self._readings > before)
                if response.is_null():
                    self._bad_input("no answer to PID 0x0D (NO DATA or a garbled frame)")
                else:
                    self._accept(response.value)
                self._wait(period - (self._clock() - started))
            return self._readings > before
        finally:
            self._closed()
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - the port may be gone already
                pass

    def _metrics(self, now: float) -> dict[str, Any]:
        return {**super()._metrics(now), "port": self.cfg.obd_port}
