"""Healing a damaged outbox file: tell damage from an unusable place, move the file aside, salvage its rows.

Damaged: not a database (random bytes), a database that fails SQLite's integrity check (truncated, overwritten
pages), one whose tables or rows are not an outbox's, or an empty folder in the file's place. Not damage: a
missing file, or one that cannot be read (permission, locked, I/O error): those raise, and the caller retries later.

A damaged file is renamed `<name>.damaged-<UTC time>` next to it (with its -wal, -shm and -journal), kept for
inspection and never deleted here; a folder that holds files is someone's data, never moved (that raises).
"""

from __future__ import annotations

import functools
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from edge.sinks.outbox import COLUMNS, SCHEMA, VALID_ROW, Row

__all__ = ["damage", "quarantine", "salvage"]

_COMPANIONS = ("-wal", "-shm", "-journal")  # SQLite's files beside the database: they belong to the damaged one
_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")  # error names (and their extended codes) that mean a damaged file
_SALVAGE_MAX_BYTES = 256 * 2**20  # salvage holds the file in memory twice; an outbox of 10,000 rows is about 4 MB


def damage(path: Path) -> str | None:
    """Why the outbox at `path` cannot be used as it is; None when it is missing, new or sound.
    Raises OSError or sqlite3.Error when it cannot be looked at (not damage: the place is unusable for now)."""
    if path.is_dir():
        if any(path.iterdir()):
            raise IsADirectoryError(f"{path} is a folder with files in it (not moved aside)")
        return "an empty folder in its place"
    if not path.exists():
        return None
    db = _connect(path)
    try:
        return _check(db)
    except sqlite3.DatabaseError as err:
        if _corrupt(err):
            return str(err)
        raise
    finally:
        db.close()


def _check(db: sqlite3.Connection) -> str | None:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    if tables and ("outbox" not in tables or tables - {"outbox", "sqlite_sequence", "open_alerts"}):
        return f"not an outbox: its tables are {', '.join(sorted(tables))}"
    if tables and _columns(db) != _expected_columns():
        return "its outbox table has other columns"
    # integrity_check, not quick_check nor a trial query: it reads every page (about 20 ms for 10,000 rows), so a
    # file truncated or overwritten where no query at start looks is found now, not at the first alert.
    problems = [r[0] for r in db.execute("PRAGMA integrity_check(3)")]
    if problems != ["ok"]:
        return f"integrity check: {'; '.join(problems)}"
    bad = db.execute(f"SELECT COUNT(*) FROM outbox WHERE NOT ({VALID_ROW})").fetchone()[0] if tables else 0
    return f"{bad} invalid row(s)" if bad else None


def _columns(db: sqlite3.Connection) -> list[tuple[str, str, int, int]]:
    return [(r[1], r[2].upper(), r[3], r[5]) for r in db.execute("PRAGMA table_info(outbox)")]


@functools.cache
def _expected_columns() -> list[tuple[str, str, int, int]]:
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(SCHEMA)
        return _columns(db)
    finally:
        db.close()


def _connect(path: Path) -> sqlite3.Connection:
    # Read-write, not mode=ro: a read-only connection cannot open a WAL database whose -shm is missing (after a
    # crash), and the WAL holds the last committed rows. query_only: nothing here writes.
    db = sqlite3.connect(str(path), timeout=5.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA query_only = ON")
    return db


def _corrupt(err: sqlite3.Error) -> bool:
    name = getattr(err, "sqlite_errorname", "")
    return name.startswith(_CORRUPT) or type(err) is sqlite3.DatabaseError


def quarantine(path: Path) -> Path:
    """Rename the damaged file (or empty folder) and its companions to `<name>.damaged-<UTC time>[-n]` next to it;
    returns the new path. Raises OSError when it cannot be moved (read-only folder)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside, n = path.with_name(f"{path.name}.damaged-{stamp}"), 1
    while any(os.path.lexists(f"{aside}{s}") for s in ("", *_COMPANIONS)):  # rename would replace it: never
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    path.rename(aside)
    for suffix in _COMPANIONS:  # a fresh outbox must not pick up the damaged one's WAL
        if os.path.lexists(f"{path}{suffix}"):
            Path(f"{path}{suffix}").rename(f"{aside}{suffix}")
    return aside


def salvage(path: Path) -> list[Row]:
    """The rows of the damaged outbox at `path` that can still be read, in id order; those that break the
    outbox's rules (VALID_ROW) are left out.

    How, and why so: sqlite3's `.recover` reads every page for rows, whether the b-tree still reaches it or not,
    but it is the CLI's, not the library's. A query on the damaged file stops at the first damaged page it meets,
    and reaches nothing at all once an interior page is gone (a big table truncated in the middle loses its upper
    pages first: they were added last). So this does what .recover does with the stdlib alone: it loads the
    file's pages into an in-memory database (serialize/deserialize: the kept file is never written) whose schema
    declares one table per page, rooted at that page, and reads each. A leaf of the outbox table gives its rows;
    any other page (index, overflow, free, garbage) fails and is skipped. Deleted rows do not come back: the
    outbox zeroes what it deletes (secure_delete)."""
    if not path.is_file() or path.stat().st_size > _SALVAGE_MAX_BYTES:
        return []
    try:
        db = _connect(path)
        try:
            db.execute("PRAGMA writable_schema = ON")  # pages counted from the file's size: a truncated file loads
            image, page_size = bytearray(db.serialize()), db.execute("PRAGMA page_size").fetchone()[0]
        finally:
            db.close()
        pages = len(image) // page_size
        image[18:20] = b"\x01\x01"  # a rollback-journal database: one in memory cannot be in WAL mode
        image[28:32] = pages.to_bytes(4, "big")  # the pages it has
        image[32:40] = bytes(8)  # no free list: new schema pages go after the image's, never over one of them
        mem = sqlite3.connect(":memory:", isolation_level=None)
    except (sqlite3.Error, OSError):
        return []
    try:
        mem.deserialize(bytes(image))
        return _read_pages(mem, pages)
    except sqlite3.Error:
        return []
    finally:
        mem.close()


def _read_pages(mem: sqlite3.Connection, pages: int) -> list[Row]:
    mem.execute("PRAGMA writable_schema = ON")
    version = mem.execute("PRAGMA schema_version").fetchone()[0]
    mem.execute("BEGIN")
    mem.execute("DELETE FROM sqlite_schema")
    mem.executemany("INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES ('table', ?, ?, ?, ?)",
                    [(f"p{n}", f"p{n}", n, f"CREATE TABLE p{n} (id INTEGER PRIMARY KEY, topic, payload, qos, retain, "
                      "kind)") for n in range(2, pages + 1)])
    mem.execute(f"PRAGMA schema_version = {int(version) + 1}")  # the new schema is read at the next statement
    mem.execute("COMMIT")
    found: dict[int, Row] = {}
    for n in range(2, pages + 1):
        try:
            for r in mem.execute(f"SELECT {COLUMNS} FROM p{n} WHERE {VALID_ROW}"):
                found[r[0]] = Row(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5])
        except sqlite3.Error:
            continue  # not a page of the outbox table, or damaged: the rows read before the error are kept
    return [found[i] for i in sorted(found)]
