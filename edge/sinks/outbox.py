"""Durable, bounded SQLite outbox for MQTT messages that must not be lost (alert events).

A row is written before the message is handed to the client and deleted only when the broker acknowledged it
(paho's on_publish for QoS 1), so a broker outage or a restart of the daemon loses nothing and keeps the order
(`id` is AUTOINCREMENT: never reused, so insertion order survives restarts and deletions).

Durability: WAL with `synchronous=FULL`. In a vehicle the usual shutdown is the ignition cutting the power; with
NORMAL a power loss may roll back the last commits, i.e. exactly the alert that was just raised. Alerts are a few
messages a minute; the rows of one message are written in one transaction (`put_many`: one fsync) and acknowledged
rows are deleted in batches (`delete_many`, by the MQTT pump thread, off the frame loop).

Errors: a failed write raises the real sqlite3.Error (disk full, read-only file) with nothing stored and the counts
consistent; the caller decides what to do with the message (the MQTT sink hands it to paho, in memory only).

Bounded: beyond `max_rows` the oldest telemetry rows are dropped first; an alert row is dropped only when no
telemetry row is left, and every drop is counted and logged.

Open alerts: beside the rows, `open_alerts` holds the last message of every alert that has started and not ended,
written in the same transaction as the message itself, so after a crash it names exactly the alerts whose end was
never stored (`left_open`): the next start ends them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger("edge.mqtt")

Kind = Literal["alert", "telemetry"]
KINDS: tuple[Kind, ...] = ("alert", "telemetry")
MEMORY = ":memory:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('alert', 'telemetry'))
);
CREATE INDEX IF NOT EXISTS outbox_kind ON outbox (kind, id);
CREATE TABLE IF NOT EXISTS open_alerts (
    id TEXT PRIMARY KEY,
    event BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class Row:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: Kind


class Outbox:
    """Thread-safe: one connection guarded by a lock (the pipeline thread puts, the MQTT pump thread reads and
    deletes)."""

    def __init__(self, path: str | Path, max_rows: int = 10_000):
        """`path` ":memory:": a volatile outbox (the fallback when the file cannot be opened; see `persistent`).
        Raises sqlite3.Error or OSError when the file cannot be created, opened or written."""
        if max_rows < 1:
            raise ValueError("max_rows must be >= 1")
        self.persistent = str(path) != MEMORY
        self.path = Path(path)
        self.max_rows = max_rows
        self.dropped = {"alert": 0, "telemetry": 0}
        self._lock = threading.Lock()
        if self.persistent:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; each statement (or explicit BEGIN block) is its own transaction.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=5.0)
        try:
            if self.persistent:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._count = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        except BaseException:
            self._db.close()
            raise
        if self._count:
            log.info("outbox %s: %d message(s) waiting from a previous run", self.path, self._count)

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, kind: Kind = "alert") -> int:
        """Store a message; returns its row id. May drop older rows (or this one) to stay within max_rows."""
        return self.put_many([(topic, payload)], qos, retain, kind)[0]

    def put_many(
        self, messages: Sequence[tuple[str, bytes]], qos: int = 1, retain: bool = False, kind: Kind = "alert",
        open_alert: tuple[str, bytes | None] | None = None,
    ) -> list[int]:
        """Store (topic, payload) messages in ONE transaction (all or none, one fsync); returns their row ids, in
        order. May drop older rows (or these) to stay within max_rows. On an error (disk full, read-only file)
        nothing is stored and the sqlite3.Error is raised. `open_alert`: (alert id, its message) while the alert
        is open, (alert id, None) when the message ends it."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        with self._lock:
            dropped = dict(self.dropped)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                ids = []
                for topic, payload in messages:
                    cur = self._db.execute(
                        "INSERT INTO outbox (topic, payload, qos, retain, kind) VALUES (?, ?, ?, ?, ?)",
                        (topic, bytes(payload), int(qos), int(bool(retain)), kind),
                    )
                    ids.append(int(cur.lastrowid or 0))
                    self._count += 1
                while self._count > self.max_rows:
                    self._drop_one()
                if open_alert is not None:
                    self._note_open_alert(*open_alert)
                self._db.execute("COMMIT")
            except BaseException:
                self.dropped = dropped  # the drops were rolled back too
                self._recover()
                raise
            return ids

    def _note_open_alert(self, alert_id: str, message: bytes | None) -> None:
        if message is None:
            self._db.execute("DELETE FROM open_alerts WHERE id = ?", (alert_id,))
        else:
            self._db.execute("INSERT OR REPLACE INTO open_alerts (id, event) VALUES (?, ?)", (alert_id, message))

    def left_open(self) -> list[tuple[str, bytes]]:
        """(alert id, last message) of every alert that started and whose end was never stored, in the order of
        their last messages."""
        with self._lock:
            return [(r[0], bytes(r[1])) for r in self._db.execute("SELECT id, event FROM open_alerts ORDER BY rowid")]

    def _recover(self) -> None:
        """After a failed write (lock held): roll back unless SQLite already did (it does on SQLITE_FULL, IOERR,
        NOMEM; a second ROLLBACK would raise "no transaction is active" and hide the real error), then recount:
        `_count` and `dropped` were advanced for statements that are now undone."""
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error as err:
            log.warning("outbox %s: rollback failed: %s", self.path, err)
        try:
            self._count = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        except sqlite3.Error as err:
            log.warning("outbox %s: recount failed: %s", self.path, err)

    def _drop_one(self) -> None:
        # The oldest telemetry first (possibly the row just put); an alert only when no telemetry is left.
        for kind in ("telemetry", "alert"):
            sql = "SELECT id, topic FROM outbox WHERE kind = ? ORDER BY id LIMIT 1"
            row = self._db.execute(sql, (kind,)).fetchone()
            if row is None:
                continue
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row[0],))
            self._count -= 1
            self.dropped[kind] += 1
            logger = log.error if kind == "alert" else log.warning
            logger("outbox full (%d rows): dropped the oldest %s message #%d on %s", self.max_rows, kind, *row)
            return
        raise RuntimeError("outbox count out of sync")  # unreachable: count > max_rows >= 1 means rows exist

    def pending(self, limit: int = 1000, after: int = 0) -> list[Row]:
        """Rows waiting for an acknowledgement, in insertion order, with id > `after`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain, kind FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Row(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5]) for r in rows]

    def delete(self, row_id: int) -> bool:
        """Forget a row the broker acknowledged; False if it was already gone (dropped, or acknowledged twice)."""
        return self.delete_many([row_id]) > 0

    def delete_many(self, row_ids: Iterable[int]) -> int:
        """Forget rows the broker acknowledged, in ONE transaction (one fsync); returns how many were still there.
        On an error nothing is deleted and the sqlite3.Error is raised (the caller may retry: a row that is never
        deleted is only sent again after a restart, a duplicate that subscribers drop)."""
        ids = [(int(i),) for i in row_ids]
        if not ids:
            return 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                before = self._db.total_changes
                self._db.executemany("DELETE FROM outbox WHERE id = ?", ids)
                gone = self._db.total_changes - before
                self._db.execute("COMMIT")
            except BaseException:
                self._recover()
                raise
            self._count -= gone
            return gone

    def count(self) -> int:
        with self._lock:
            return self._count

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error as err:  # closing must not raise on the way out
                log.warning("outbox close: %s", err)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
