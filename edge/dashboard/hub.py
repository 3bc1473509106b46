"""Where MQTT messages meet the fleet, the store and the browsers. Everything runs on the event loop's thread:
paho's thread only hands each message over (`from_mqtt`), in order, with the time it arrived.

A malformed payload is counted (per device and in total), logged once per device and topic, and skipped. A store
that fails (disk full) is counted and logged; the page still gets the event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from edge.dashboard import messages
from edge.dashboard.fleet import Fleet
from edge.dashboard.store import EventStore, StoreUnavailable
from edge.names import EVENTS

log = logging.getLogger("edge.dashboard")

RESTORED_EVENTS = 5000  # the latest stored events, folded at start: open alerts and known de-duplication keys
QUEUE_LIMIT = 2000  # changes waiting for one browser; one that falls this far behind is dropped and reconnects


class Hub:
    def __init__(self, fleet: Fleet, store: EventStore, loop: asyncio.AbstractEventLoop):
        self.fleet, self.store, self.loop = fleet, store, loop
        self.streams: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self.store_failed = 0
        self._warned: set[tuple[str, str]] = set()
        for stored in store.events(limit=RESTORED_EVENTS):
            fleet.restore(stored.device, stored.event)

    def from_mqtt(self, topic: str, raw: bytes, retained: bool) -> None:
        """paho's network thread: hand over, nothing else."""
        self.loop.call_soon_threadsafe(self.handle, topic, raw, retained, time.time())

    def handle(self, topic: str, raw: bytes, retained: bool, received: float) -> None:
        msg = messages.parse(topic, raw, retained)
        if msg is None:
            return
        if isinstance(msg, messages.Malformed):
            self.fleet.malformed(msg)
            if (msg.device, msg.topic) not in self._warned and len(self._warned) < 1000:
                self._warned.add((msg.device, msg.topic))
                log.warning("dms/%s/%s: %s (skipped; further ones are only counted)", msg.device, msg.topic,
                            msg.reason)
            return
        change = self.fleet.apply(msg, received)
        if change is None:
            return
        if msg.topic == EVENTS:
            try:
                seq = self.store.add(msg.device, msg.payload, received)
            except StoreUnavailable as err:
                self.store_failed += 1
                log.error("event store: cannot record an event (%s); it is shown but not kept", err)
                seq = None
            else:
                if seq is None:  # older than the fleet remembers, but stored already: a re-delivery
                    self.fleet.counts["duplicates"] += 1
                    return
            change["seq"] = seq
        self.broadcast(change)

    def counts(self) -> dict[str, Any]:
        return {**self.fleet.counts, "store_failed": self.store_failed, "streams": len(self.streams)}

    # -- browsers ------------------------------------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_LIMIT)
        self.streams.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self.streams.discard(queue)

    def broadcast(self, change: dict[str, Any]) -> None:
        for queue in list(self.streams):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:  # a stalled browser: end its stream (it reconnects and gets a snapshot)
                self.streams.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)

    def close_streams(self) -> None:
        for queue in list(self.streams):
            self.streams.discard(queue)
            try:
                queue.put_nowait(None)
            except asyncio.QueueFull:
                queue.get_nowait()
                queue.put_nowait(None)
