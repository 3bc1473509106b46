"""JSON lines: one `{"topic": ..., "payload": {...}}` per message that would be published over MQTT.

`topic` is relative to the device prefix (`state`, `events`, ...), as in docs/mqtt.md. Payloads are encoded exactly
as the MQTT sink encodes them (edge/sinks/encoding.py: NaN/inf become null). A file is line-buffered: every message
is on disk (in the page cache) as soon as it is published, so `tail -f` and other readers follow it live.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

from edge.sinks.encoding import dumps


class JsonlSink:
    def __init__(self, target: str | Path | IO[str]):
        if isinstance(target, (str, Path)) and str(target) != "-":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            self._f: IO[str] = open(target, "w", encoding="utf-8", buffering=1)
            self._owned = True
        else:
            self._f = sys.stdout if isinstance(target, (str, Path)) else target
            self._owned = False

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self._f.write(dumps({"topic": topic, "payload": payload}) + "\n")

    def close(self) -> None:
        if self._owned:
            self._f.close()
        else:
            self._f.flush()
