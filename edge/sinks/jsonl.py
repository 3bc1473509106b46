"""JSON lines: one `{"topic": ..., "payload": {...}}` per message that would be published over MQTT.

`topic` is relative to the device prefix (`state`, `events`, ...), as in docs/mqtt.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any


class JsonlSink:
    def __init__(self, target: str | Path | IO[str]):
        if isinstance(target, (str, Path)) and str(target) != "-":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            self._f: IO[str] = open(target, "w", encoding="utf-8")
            self._owned = True
        else:
            self._f = sys.stdout if isinstance(target, (str, Path)) else target
            self._owned = False

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self._f.write(json.dumps({"topic": topic, "payload": payload}, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._owned:
            self._f.close()
        else:
            self._f.flush()
