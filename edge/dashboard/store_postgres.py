"""The event history in PostgreSQL, for a fleet whose dashboards outgrow one machine's SQLite file: several
dashboard instances can share one database, each event kept once under the de-duplication key of docs/mqtt.md.

psycopg 3 (the `dashboard` extra), one autocommit connection. A connection that breaks (the server restarted, the
network dropped) is opened again on the next call; a call that fails anyway raises StoreUnavailable, which the hub
counts while the event is still shown. `seq` is an identity column: the order of first arrival across all
instances, with gaps where an instance's insert met a duplicate.
"""

from __future__ import annotations

from typing import Any

from edge.dashboard.store import StoredEvent, StoreError, StoreUnavailable, event_row, events_query

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dms_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    t DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    received DOUBLE PRECISION NOT NULL,
    payload JSONB NOT NULL,
    UNIQUE (device, id, type, t)
);
CREATE INDEX IF NOT EXISTS dms_events_device ON dms_events (device, seq);
"""


class PostgresStore:
    def __init__(self, url: str, connect_timeout_s: float = 5.0):
        try:
            import psycopg
        except ImportError:
            raise StoreError("--store postgresql://: needs psycopg: pip install 'edge-dms[dashboard]'") from None
        self._psycopg = psycopg
        self._url, self._timeout = url, connect_timeout_s
        self._conn: Any = None
        try:
            self._connection().execute(_SCHEMA)
        except psycopg.Error as err:
            raise StoreError(f"cannot open the event store {_without_password(url)}: {err}") from None

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self._psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout)
        return self._conn

    def _execute(self, sql: str, args: tuple[Any, ...]) -> Any:
        """Run one statement; once more on a new connection if the old one had broken."""
        for attempt in (1, 2):
            try:
                return self._connection().execute(sql, args)
            except self._psycopg.OperationalError as err:
                if self._conn is not None:
                    self._conn.close()
                if attempt == 2:
                    raise StoreUnavailable(str(err).strip()) from None
            except self._psycopg.Error as err:
                raise StoreUnavailable(str(err).strip()) from None
        raise AssertionError("unreachable")

    def add(self, device: str, event: dict[str, Any], received: float) -> int | None:
        row = self._execute(
            "INSERT INTO dms_events (device, id, type, t, kind, level, received, payload) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING seq",
            event_row(device, event, received),
        ).fetchone()
        return None if row is None else int(row[0])

    def events(self, device: str | None = None, limit: int = 200, before: int | None = None) -> list[StoredEvent]:
        rows = self._execute(*events_query("dms_events", "%s", device, limit, before)).fetchall()
        return [StoredEvent(int(seq), dev, float(received), payload) for seq, dev, received, payload in reversed(rows)]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _without_password(url: str) -> str:
    """The URL as it may be shown: a password in it would land in logs and the terminal."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
