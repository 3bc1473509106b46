"""The MQTT sink's outbox keeper (real files): healed at start, events in memory while the file cannot be used,
moved into it by the retry, in one order, without losing a row."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from edge.faultlog import FaultLog
from edge.sinks.outbox import Outbox
from edge.sinks.outbox_keeper import OutboxKeeper
from tests.immutable import immutable
from tests.unit.test_outbox import FullDisk
from tests.unit.test_outbox_heal import previous_run

LOG = logging.getLogger("test.keeper")


def keeper(path: Path, max_rows: int = 1000) -> OutboxKeeper:
    return OutboxKeeper(path, max_rows, FaultLog(LOG), retry_s=30.0)


def put(box: OutboxKeeper, *names: str) -> None:
    for name in names:
        box.put_many([(f"events/{name}", name.encode()), (f"events/k/{name}", name.encode())])


def payloads(box: OutboxKeeper, after: int = 0) -> list[bytes]:
    return [r.payload for r in box.pending(10_000, after) if not r.topic.startswith("events/k/")]


def test_a_damaged_file_is_healed_at_start(tmp_path):
    path = tmp_path / "outbox.sqlite"
    rows = previous_run(path, n=100)
    os.truncate(path, path.stat().st_size // 2)
    damaged = path.read_bytes()
    box = keeper(path)
    assert box.persistent and box.problem is None and box.in_memory() == 0
    repair = box.repair
    assert repair is not None and repair.aside.read_bytes() == damaged  # kept as it was
    assert 0 < repair.salvaged < 100 and box.pending(1000) == rows[: repair.salvaged]  # same ids, topics, payloads
    assert str(repair.aside) in (box.note or "") and box.metrics()["outbox_salvaged"] == repair.salvaged
    put(box, "new")
    box.close()
    with Outbox(path) as again:  # a sound outbox now: the salvaged rows, then the new ones
        assert again.count() == repair.salvaged + 2 and again.pending(1000)[-1].payload == b"new"


def test_failed_writes_go_to_memory_in_order_and_back_to_the_file_with_their_ids(tmp_path):
    box = keeper(tmp_path / "outbox.sqlite")
    put(box, "a", "b")
    file = box._file
    disk = file._db = FullDisk(file._db, fail_on="INSERT", sqlite_rolls_back=True)
    put(box, "c", "d")
    assert box.problem and "disk is full" in box.problem and box.persist_failed == 2 and box.in_memory() == 4
    disk.fail = False
    put(box, "e")  # the file would take it now, but it must not overtake c and d: memory until the retry
    assert box.in_memory() == 6 and payloads(box) == [b"a", b"b", b"c", b"d", b"e"]
    ids = [r.id for r in box.pending()]
    assert ids == sorted(ids) and len(set(ids)) == 10  # one sequence: the file's rows, then those in memory
    assert box.delete_many(ids[:2] + ids[4:6]) == 4  # a (file) and c (memory) acknowledged
    assert box.retry() is None  # not due yet
    assert box.retry(now=1e12) is False  # durable again, ids kept: the pump needs no rewind
    assert box.problem is None and box.in_memory() == 0 and [r.id for r in box.pending()] == ids[2:4] + ids[6:]
    put(box, "f")
    assert payloads(box) == [b"b", b"d", b"e", b"f"] and box.pending()[-1].id > ids[-1]
    box.close()


def test_events_stored_during_the_move_are_neither_lost_nor_reordered(tmp_path):
    box = keeper(tmp_path / "outbox.sqlite", max_rows=100_000)
    file = box._file
    disk = file._db = FullDisk(file._db, fail_on="INSERT", sqlite_rolls_back=True)
    for i in range(500):
        put(box, str(i))  # in memory
    disk.fail = False
    started = threading.Event()

    def producer() -> None:  # the caller's thread goes on storing events while the pump moves them
        for i in range(500, 1000):
            put(box, str(i))
            started.set()
            time.sleep(0.001)

    thread = threading.Thread(target=producer)
    thread.start()
    started.wait(10)
    try:
        assert box.retry(now=1e12) is False
    finally:
        thread.join(60)
    assert box.problem is None and box.in_memory() == 0 and 500 < box.persist_failed < 1000
    assert payloads(box) == [str(i).encode() for i in range(1000)]
    box.close()


def test_no_file_at_start_then_one_with_rows_of_its_own(tmp_path):
    """The file cannot be opened at start (immutable): events go to memory, numbered from 1. When it opens, its
    own rows (a previous run's) come first and the events in memory after them, renumbered: the pump rewinds."""
    path = tmp_path / "outbox.sqlite"
    old = previous_run(path, n=3, size=10)
    with immutable(path):
        box = keeper(path)
        assert not box.persistent and box.problem and box.problem.startswith("outbox not persistent: ")
        put(box, "live")
        assert [r.id for r in box.pending()] == [1, 2]  # the same numbers as the file's first rows
        assert box.retry(now=1e12) is None and not box.persistent  # still refused
    assert box.retry(now=2e12) is True
    assert box.persistent and box.problem is None and box.in_memory() == 0
    assert [r.payload for r in box.pending()] == [r.payload for r in old] + [b"live", b"live"]
    box.close()


def test_damaged_file_that_cannot_be_moved_aside(tmp_path):
    path = tmp_path / "outbox.sqlite"
    rows = previous_run(path, n=30, size=10)
    with path.open("r+b") as f:
        f.write(b"garbage!" * 4)  # the header: not a database any more
    with immutable(tmp_path):  # the folder: nothing can be renamed in it
        box = keeper(path)
        assert not box.persistent and "cannot be moved aside" in (box.problem or "")
        put(box, "live")
    assert box.retry(now=1e12) is False  # moved aside now; nothing could be salvaged from a broken header
    assert box.persistent and box.repair is not None and box.repair.salvaged == 0
    assert payloads(box) == [b"live"] and rows
    box.close()


def test_the_file_moves_back_when_the_folder_can_be_made(tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("")  # a file where the outbox's folder should be
    box = keeper(blocker / "outbox.sqlite")
    put(box, "a", "b")
    assert box.retry(now=1e12) is None
    blocker.unlink()
    blocker.mkdir()
    assert box.retry(now=2e12) is False  # a new file: the ids of the rows in memory are kept
    assert payloads(box) == [b"a", b"b"] and box.in_memory() == 0
    db = sqlite3.connect(blocker / "outbox.sqlite")
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 4
    db.close()
    box.close()


def test_alerts_opened_or_ended_while_in_memory_are_open_or_ended_in_the_file_after_the_move(tmp_path):
    path = tmp_path / "outbox.sqlite"
    box = keeper(path)
    box.put_many([("events", b"start-a")], open_alert=("a", b"start-a"))  # in the file
    box.put_many([("events", b"start-b")], open_alert=("b", b"start-b"))
    file = box._file
    disk = file._db = FullDisk(file._db, fail_on="INSERT", sqlite_rolls_back=True)
    box.put_many([("events", b"end-a")], open_alert=("a", None))  # in memory: a ends, c starts, b moves on
    box.put_many([("events", b"start-c")], open_alert=("c", b"start-c"))
    box.put_many([("events", b"update-b")], open_alert=("b", b"update-b"))
    assert box.in_memory() == 3 and box.left_open() == [("a", b"start-a"), ("b", b"start-b")]  # the file's, as yet
    disk.fail = False
    file._db = disk._db
    assert box.retry(now=time.monotonic() + 60) is not None and box.persistent and box.problem is None
    assert sorted(box.left_open()) == [("b", b"update-b"), ("c", b"start-c")]
    box.close()
    with Outbox(path) as again:  # what a crash now would leave for the next start
        assert sorted(again.left_open()) == [("b", b"update-b"), ("c", b"start-c")]
