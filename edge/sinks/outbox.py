"""Durable, bounded SQLite outbox for MQTT messages that must not be lost (alert events).

A row is written before the message is handed to the client and deleted only when the broker acknowledged it
(paho's on_publish for QoS 1), so a broker outage or a restart of the daemon loses nothing and keeps the order
(`id` is AUTOINCREMENT: never reused, so insertion order survives restarts and deletions).

Durability: WAL with `synchronous=FULL`. In a vehicle the usual shutdown is the ignition cutting the power; with
NORMAL a power loss may roll back the last commits, i.e. exactly the alert that was just raised. Alerts are a few
messages a minute; the rows of one message are written in one transaction (`put_many`: one fsync) and acknowledged
rows are deleted in batches (`delete_many`, by the MQTT pump thread, off the frame loop).

Errors: a failed write raises the real sqlite3.Error (disk full, read-only file) with nothing stored and the counts
consistent; the caller decides what to do with the message (the MQTT sink keeps it in memory: outbox_keeper).

Bounded: beyond `max_rows` the oldest telemetry rows are dropped first; an alert row is dropped only when no
telemetry row is left, and every drop is counted and logged.

Open alerts: beside the rows, `open_alerts` holds the last message of every alert that has started and not ended,
written in the same transaction as the message itself, so after a crash it names exactly the alerts whose end was
never stored (`left_open`): the next start ends them. In memory (the keeper's spill while the file cannot be used)
an end is kept as a tombstone (no message), so that moving the spill into the file ends the alert there too.

A damaged file is healed by outbox_heal, and the MQTT sink's use of it (in memory while the file cannot be used) is
outbox_keeper's; this class only stores rows.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.faultlog import FaultLog

log = logging.getLogger("edge.mqtt")

Kind = Literal["alert", "telemetry"]
KINDS: tuple[Kind, ...] = ("alert", "telemetry")
MEMORY = ":memory:"

SCHEMA = """
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
    event BLOB
);
"""
COLUMNS = "id, topic, payload, qos, retain, kind"
# What a row must be for the sink to send it: the schema's rules, and what its writer (this class) always writes
# (an id > 0: `pending` reads after 0).
VALID_ROW = ("id > 0 AND typeof(topic) = 'text' AND typeof(payload) = 'blob' AND qos IN (0, 1, 2) "
             "AND retain IN (0, 1) AND kind IN ('alert', 'telemetry')")


OpenAlert = tuple[str, bytes | None]  # (alert id, its last message; None: it ended)


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
        self._faults = FaultLog(log)  # a full outbox drops a row per event: one line, then a count a minute
        self._lock = threading.Lock()
        if self.persistent:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; each statement (or explicit BEGIN block) is its own transaction.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=5.0)
        try:
            if self.persistent:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("PRAGMA secure_delete=ON")  # a salvage (outbox_heal) must not find deleted rows
            self._db.executescript(SCHEMA)
            if self.persistent:  # a file that opens but cannot be written (read-only) would fail at the first alert
                version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
                self._db.execute(f"PRAGMA user_version = {version}")
            self._count = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            seq = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            self.last_id: int = int(seq[0]) if seq else 0  # the highest id ever given: new rows come after it
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
        open_alert: OpenAlert | None = None,
    ) -> list[int]:
        """Store (topic, payload) messages in ONE transaction (all or none, one fsync); returns their row ids, in
        order. May drop older rows (or these) to stay within max_rows. On an error (disk full, read-only file)
        nothing is stored and the sqlite3.Error is raised. `open_alert`: (alert id, its message) while the alert
        is open, (alert id, None) when the message ends it."""
        return self._insert([(None, topic, payload, qos, retain, kind) for topic, payload in messages],
                            [open_alert] if open_alert is not None else [])

    def note_open_alerts(self, notes: Sequence[OpenAlert]) -> None:
        """Apply another outbox's open-alert notes (`open_alert_notes`), in ONE transaction."""
        self._insert([], notes)

    def left_open(self) -> list[OpenAlert]:
        """(alert id, last message) of every alert that started and whose end was never stored, in the order of
        their last messages."""
        with self._lock:
            rows = self._db.execute("SELECT id, event FROM open_alerts WHERE event IS NOT NULL ORDER BY rowid")
            return [(r[0], bytes(r[1])) for r in rows]

    def clear_open_alerts(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM open_alerts")

    def open_alert_notes(self) -> list[OpenAlert]:
        """Every note, tombstones included (in memory: ends to carry into the file)."""
        with self._lock:
            rows = self._db.execute("SELECT id, event FROM open_alerts ORDER BY rowid")
            return [(r[0], None if r[1] is None else bytes(r[1])) for r in rows]

    def put_rows(self, rows: Sequence[Row], keep_ids: bool) -> list[int]:
        """Store rows taken from another outbox, in ONE transaction, like put_many; `keep_ids`: with their own ids
        (the caller makes sure they come after `last_id`), else numbered after it. Returns their new ids."""
        return self._insert([(r.id if keep_ids else None, r.topic, r.payload, r.qos, r.retain, r.kind) for r in rows])

    def reserve_ids(self, upto: int) -> None:
        """Number the next rows after `upto` at least (one transaction; raises sqlite3.Error like put_many)."""
        with self._lock:
            if upto <= self.last_id:
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox', 0 "
                                 "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox')")
                self._db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'outbox'", (upto,))
                self._db.execute("COMMIT")
            except BaseException:
                self._recover()
                raise
            self.last_id = upto

    def _insert(self, values: list[tuple[int | None, str, bytes, int, bool, str]],
                notes: Sequence[OpenAlert] = ()) -> list[int]:
        bad = [v[5] for v in values if v[5] not in KINDS]
        if bad:
            raise ValueError(f"kind must be one of {KINDS}, got {bad[0]!r}")
        if not values and not notes:
            return []
        with self._lock:
            dropped = dict(self.dropped)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                ids = []
                for row_id, topic, payload, qos, retain, kind in values:
                    cur = self._db.execute(
                        f"INSERT INTO outbox ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                        (row_id, topic, bytes(payload), int(qos), int(bool(retain)), kind),
                    )
                    ids.append(int(cur.lastrowid or 0))
                    self._count += 1
                while self._count > self.max_rows:
                    self._drop_one()
                for alert_id, message in notes:
                    self._note_open_alert(alert_id, message)
                self._db.execute("COMMIT")
            except BaseException:
                self.dropped = dropped  # the drops were rolled back too
                self._recover()
                raise
            self.last_id = max([self.last_id, *ids])
            return ids

    def _note_open_alert(self, alert_id: str, message: bytes | None) -> None:
        if message is None and self.persistent:
            self._db.execute("DELETE FROM open_alerts WHERE id = ?", (alert_id,))
        else:  # an open alert's last message, or (in memory) an end's tombstone
            self._db.execute("INSERT OR REPLACE INTO open_alerts (id, event) VALUES (?, ?)", (alert_id, message))

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
            self._faults.fault(f"drop-{kind}", "outbox full (%d rows): dropped the oldest %s message #%d on %s",
                               self.max_rows, kind, *row, level=logging.ERROR if kind == "alert" else logging.WARNING,
                               summary=f"outbox full: {{n}} more {kind} message(s) dropped in the last {{s:.0f}} s")
            return
        raise RuntimeError("outbox count out of sync")  # unreachable: count > max_rows >= 1 means rows exist

    def pending(self, limit: int = 1000, after: int = 0) -> list[Row]:
        """Rows waiting for an acknowledgement, in insertion order, with id > `after`."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
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
