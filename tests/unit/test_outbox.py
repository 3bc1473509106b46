"""The durable outbox: order, acknowledgement, bounded drop policy, restarts, threads."""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest

from edge.sinks.outbox import Outbox
from tests.immutable import immutable


def test_order_and_delete(tmp_path):
    box = Outbox(tmp_path / "sub" / "outbox.sqlite", max_rows=100)  # creates its folder
    ids = [box.put(f"t/{i}", f"p{i}".encode(), kind="alert") for i in range(5)]
    assert ids == sorted(ids)
    rows = box.pending(10)
    assert [r.topic for r in rows] == [f"t/{i}" for i in range(5)]
    assert rows[0].payload == b"p0" and rows[0].qos == 1 and rows[0].retain is False and rows[0].kind == "alert"
    assert box.delete(ids[1]) and not box.delete(ids[1])
    assert [r.id for r in box.pending(10)] == [ids[0], ids[2], ids[3], ids[4]]
    assert [r.id for r in box.pending(2)] == [ids[0], ids[2]]
    assert [r.id for r in box.pending(10, after=ids[2])] == [ids[3], ids[4]]
    assert box.count() == 4
    box.close()


def test_telemetry_is_dropped_before_alerts(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_rows=4)
    a1 = box.put("a", b"1", kind="alert")
    box.put("t", b"1", kind="telemetry")  # the first to go
    a2 = box.put("a", b"2", kind="alert")
    t2 = box.put("t", b"2", kind="telemetry")
    a3 = box.put("a", b"3", kind="alert")  # full: the oldest telemetry goes
    assert [r.id for r in box.pending(10)] == [a1, a2, t2, a3]
    a4 = box.put("a", b"4", kind="alert")
    assert [r.id for r in box.pending(10)] == [a1, a2, a3, a4]
    box.put("t", b"3", kind="telemetry")  # full of alerts: the new telemetry row itself goes
    assert [r.id for r in box.pending(10)] == [a1, a2, a3, a4]
    assert box.dropped == {"alert": 0, "telemetry": 3}
    a5 = box.put("a", b"5", kind="alert")  # nothing else left: the oldest alert goes, and it is counted
    assert [r.id for r in box.pending(10)] == [a2, a3, a4, a5]
    assert box.dropped == {"alert": 1, "telemetry": 3}
    assert box.count() == 4
    box.close()


def test_rows_and_order_survive_reopen(tmp_path):
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_rows=100)
    ids = [box.put("e", bytes([i]), kind="alert") for i in range(3)]
    box.delete(ids[2])  # the highest id is gone: a new row must still come after the others
    box.close()
    box = Outbox(path, max_rows=100)
    assert box.count() == 2
    new = box.put("e", b"new", qos=0, retain=True, kind="telemetry")
    rows = box.pending(10)
    assert [r.id for r in rows] == [ids[0], ids[1], new] and new > ids[2]
    assert rows[-1].retain is True and rows[-1].qos == 0 and rows[-1].kind == "telemetry"
    box.close()


def test_bad_kind_is_rejected(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_rows=100)
    with pytest.raises(ValueError):
        box.put("e", b"", kind="other")  # type: ignore[arg-type]
    assert box.count() == 0
    box.close()


def test_thread_safe(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_rows=10_000)
    per_thread, errors = 50, []

    def producer(n: int) -> None:
        try:
            for i in range(per_thread):
                row_id = box.put(f"p{n}", str(i).encode(), kind="alert")
                if i % 2:
                    assert box.delete(row_id)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    rows = box.pending(10_000)
    assert box.count() == len(rows) == 4 * per_thread // 2
    for n in range(4):  # each producer's rows are in its own order
        assert [int(r.payload) for r in rows if r.topic == f"p{n}"] == list(range(0, per_thread, 2))
    box.close()


class FullDisk:
    """Stands in for the outbox's sqlite3 connection and fails like a full disk on the statements that start with
    `fail_on` (sqlite3.Connection's methods cannot be monkeypatched). `sqlite_rolls_back`: SQLite itself has already
    rolled the transaction back when the error comes (as it does on SQLITE_FULL); `skip`: let that many matching
    statements pass first; `fail = False` heals it."""

    def __init__(self, db, fail_on: str = "INSERT", sqlite_rolls_back: bool = False, skip: int = 0):
        self._db, self.fail_on, self.sqlite_rolls_back, self.skip = db, fail_on, sqlite_rolls_back, skip
        self.fail = True

    def _check(self, sql: str, run) -> None:
        if self.fail and sql.lstrip().upper().startswith(self.fail_on):
            if self.skip > 0:
                self.skip -= 1
                return
            if self.sqlite_rolls_back:
                if self.fail_on != "COMMIT":
                    run()
                self._db.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql: str, *args):
        self._check(sql, lambda: self._db.execute(sql, *args))
        return self._db.execute(sql, *args)

    def executemany(self, sql: str, *args):
        self._check(sql, lambda: self._db.executemany(sql, *args))
        return self._db.executemany(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._db, name)


def test_put_many_and_delete_many_are_one_transaction_each(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_rows=100)
    ids = box.put_many([("events", b"e"), ("events/sleep", b"e")], kind="alert")
    assert len(ids) == 2 and ids == sorted(ids) and box.count() == 2
    box._db = FullDisk(box._db, fail_on="INSERT", skip=1)
    with pytest.raises(sqlite3.OperationalError):
        box.put_many([("a", b"1"), ("b", b"2")])  # the first INSERT passes, the second fails: neither is kept
    box._db = box._db._db
    assert box.count() == 2 and [r.id for r in box.pending()] == ids
    more = box.put_many([("c", b"3"), ("d", b"4")])
    assert box.delete_many([ids[0], more[1], 999_999]) == 2  # a row already gone is not counted
    assert box.delete_many([]) == 0
    assert [r.id for r in box.pending()] == [ids[1], more[0]] and box.count() == 2
    box.close()


@pytest.mark.parametrize("sqlite_rolls_back", [False, True])
def test_full_disk_raises_the_real_error_and_keeps_the_count(tmp_path, sqlite_rolls_back):
    box = Outbox(tmp_path / "o.sqlite", max_rows=2)
    box.put("a", b"1", kind="telemetry")
    box.put("a", b"2", kind="alert")
    real = box._db
    box._db = FullDisk(real, fail_on="INSERT", sqlite_rolls_back=sqlite_rolls_back)
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):  # not "cannot rollback"
        box.put("a", b"3", kind="alert")
    assert box.count() == 2 and not real.in_transaction and box.dropped == {"alert": 0, "telemetry": 0}
    box._db = FullDisk(real, fail_on="COMMIT", sqlite_rolls_back=sqlite_rolls_back)  # fails after a drop
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        box.put("a", b"3", kind="alert")
    assert box.count() == 2 and not real.in_transaction and box.dropped == {"alert": 0, "telemetry": 0}
    assert [r.payload for r in box.pending()] == [b"1", b"2"]  # the drop was rolled back too
    box._db = FullDisk(real, fail_on="DELETE", sqlite_rolls_back=sqlite_rolls_back)
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        box.delete_many([r.id for r in box.pending()])
    assert box.count() == 2 and not real.in_transaction
    box._db = real  # healed: it works again
    box.put("a", b"3", kind="alert")
    assert [r.payload for r in box.pending()] == [b"2", b"3"] and box.dropped == {"alert": 0, "telemetry": 1}
    box.close()


def test_memory_outbox(tmp_path):
    box = Outbox(":memory:", max_rows=100)
    assert not box.persistent and not (tmp_path / ":memory:").exists()
    box.put("a", b"1")
    assert box.count() == 1
    box.close()
    assert Outbox(tmp_path / "o.sqlite").persistent


@pytest.mark.parametrize("where", ["parent_is_a_file", "path_is_a_folder"])
def test_unusable_path_raises(tmp_path, where):
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "o.sqlite" if where == "parent_is_a_file" else tmp_path
    with pytest.raises((OSError, sqlite3.Error)):
        Outbox(path)


def test_open_alerts_are_kept_in_the_same_transaction_as_their_messages(tmp_path):
    box = Outbox(tmp_path / "o.sqlite")
    box.put_many([("events", b"start-a")], open_alert=("a", b"start-a"))
    box.put_many([("events", b"start-b")], open_alert=("b", b"start-b"))
    box.put_many([("events", b"update-a")], open_alert=("a", b"update-a"))  # the last message replaces the first
    box.put_many([("events", b"end-b")], open_alert=("b", None))
    assert box.left_open() == [("a", b"update-a")]
    real = box._db
    box._db = FullDisk(real, fail_on="INSERT")
    with pytest.raises(sqlite3.OperationalError):  # the message is not stored: neither is its alert's end
        box.put_many([("events", b"end-a")], open_alert=("a", None))
    box._db = real
    box.close()
    reopened = Outbox(tmp_path / "o.sqlite")  # what a crash leaves is what the next start finds
    assert reopened.left_open() == [("a", b"update-a")] and reopened.count() == 4
    reopened.put_many([], open_alert=("a", None))
    assert reopened.left_open() == []
    reopened.close()


def test_a_file_that_opens_but_cannot_be_written_raises_at_once(tmp_path):
    Outbox(tmp_path / "o.sqlite").close()
    with immutable(tmp_path / "o.sqlite"), pytest.raises(sqlite3.OperationalError, match="readonly"):
        Outbox(tmp_path / "o.sqlite")  # not at the first alert


def test_a_full_outbox_logs_its_first_drop_then_counts(tmp_path, caplog):
    box = Outbox(tmp_path / "o.sqlite", max_rows=100)
    with caplog.at_level(logging.WARNING, logger="edge.mqtt"):
        for i in range(150):
            box.put("events", b"x", kind="telemetry")
    drops = [r.getMessage() for r in caplog.records if "outbox full" in r.getMessage()]
    first = "outbox full (100 rows): dropped the oldest telemetry message #1 on events"
    assert box.dropped["telemetry"] == 50 and drops == [first]  # the other 49 in a count, a minute later
    box.close()
