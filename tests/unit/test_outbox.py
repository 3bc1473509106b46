"""The durable outbox: order, acknowledgement, bounded drop policy, restarts, threads."""

from __future__ import annotations

import threading

import pytest

from edge.sinks.outbox import Outbox


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
