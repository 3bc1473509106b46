"""What every sink is: something that takes (topic, payload) messages, the same ones MQTT would carry."""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    def publish(self, topic: str, payload: dict[str, Any]) -> None: ...

    def close(self) -> None: ...
