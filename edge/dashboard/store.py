"""The event history: every alert message once, in the order it first arrived, across restarts.

`EventStore` is what the dashboard needs; `SqliteStore` (stdlib sqlite3, WAL) implements it, and `PostgresStore`
(store_postgres.py) behind `open_store`'s `postgresql://` URL. The key (device, id, type, t) is the
de-duplication key of docs/mqtt.md: a message delivered again (after a broker or dashboard restart) is ignored.
Used from one thread (the dashboard's event loop).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,  -- max + 1: rows are never deleted, so the order of arrival, without gaps
    device TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    received REAL NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (device, id, type, t)
);
CREATE INDEX IF NOT EXISTS events_device ON events (device, seq);
"""


class StoreError(Exception):
    """The store cannot be opened (bad URL, unwritable file, no database): a usage error."""


class StoreUnavailable(Exception):
    """A store that was open failed a call (disk full, database gone): the hub counts it and carries on."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int  # order of first arrival
    device: str
    received: float  # Unix time the dashboard first received it
    event: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "device": self.device, "received": self.received, "event": self.event}


class EventStore(Protocol):
    def add(self, device: str, event: dict[str, Any], received: float) -> int | None:
        """Record one event; its sequence number, or None if it was recorded before."""
        ...

    def events(self, device: str | None = None, limit: int = 200, before: int | None = None) -> list[StoredEvent]:
        """The latest `limit` events (of one device), older than seq `before`, oldest first."""
        ...

    def close(self) -> None: ...


def event_row(device: str, event: dict[str, Any], received: float) -> tuple[Any, ...]:
    """(device, id, type, t, kind, level, received, payload): the columns both stores insert, in that order."""
    return (device, event["id"], event["type"], float(event["t"]), event["kind"], event["level"], received,
            json.dumps(event, separators=(",", ":")))


def events_query(table: str, mark: str, device: str | None, limit: int,
                 before: int | None) -> tuple[str, tuple[Any, ...]]:
    """(SQL, arguments) of `EventStore.events`, newest first; `mark` is the driver's placeholder (? or %s)."""
    where, args = [], []
    if device is not None:
        where.append(f"device = {mark}")
        args.append(device)
    if before is not None:
        where.append(f"seq < {mark}")
        args.append(before)
    sql = f"SELECT seq, device, received, payload FROM {table}"
    sql += f" WHERE {' AND '.join(where)}" if where else ""
    return f"{sql} ORDER BY seq DESC LIMIT {mark}", (*args, limit)


class SqliteStore:
    def __init__(self, path: Path):
        self.path = path
        try:
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # a power cut may lose the last events, never corrupt
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"cannot open the event store {path}: {err}") from None

    def add(self, device: str, event: dict[str, Any], received: float) -> int | None:
        try:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO events (device, id, type, t, kind, level, received, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                event_row(device, event, received),
            )
        except sqlite3.Error as err:
            raise StoreUnavailable(str(err)) from None
        return cur.lastrowid if cur.rowcount == 1 else None

    def events(self, device: str | None = None, limit: int = 200, before: int | None = None) -> list[StoredEvent]:
        rows = self._db.execute(*events_query("events", "?", device, limit, before)).fetchall()
        return [StoredEvent(seq, dev, received, json.loads(p)) for seq, dev, received, p in reversed(rows)]

    def close(self) -> None:
        self._db.close()


def default_path() -> Path:
    """$STATE_DIRECTORY (systemd's StateDirectory=), else $XDG_STATE_HOME/dms, else ~/.local/state/dms."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / "dashboard.sqlite"
    root = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(root) / "dms" / "dashboard.sqlite"


def open_store(url: str | None) -> EventStore:
    """`postgresql://USER@HOST[:PORT]/DB` (a password from the URL or libpq's PGPASSWORD / ~/.pgpass),
    `sqlite:///abs/path.sqlite`, `sqlite:relative.sqlite`, a bare path, or None (the default path)."""
    if url is None:
        return SqliteStore(default_path())
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        from edge.dashboard.store_postgres import PostgresStore

        return PostgresStore(url)
    if parts.scheme == "sqlite":
        path = url[len("sqlite://"):] if url.startswith("sqlite://") else url[len("sqlite:"):]
        if not path:
            raise StoreError(f"--store {url!r}: no file (sqlite:///path/to/file.sqlite)")
        return SqliteStore(Path(path))
    if parts.scheme and len(parts.scheme) > 1:  # not a Windows drive letter
        raise StoreError(f"--store {url!r}: expected sqlite:///PATH or a file path")
    return SqliteStore(Path(url))
