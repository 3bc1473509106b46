"""Healing a damaged outbox file (real files): damage told from a sound file, quarantine, salvage of the rows."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest

from edge.sinks.outbox import Outbox, Row
from edge.sinks.outbox_heal import damage, quarantine, salvage

PAGE = 4096


def previous_run(path: Path, n: int = 300, size: int = 1000) -> list[Row]:
    """An outbox a previous run left: n rows of `size` bytes (3 to a page), closed (its WAL merged into it)."""
    box = Outbox(path, max_rows=100_000)
    for i in range(n):
        box.put(f"dms/dev1/events/{i}", bytes([i % 256]) * size, kind="alert" if i % 2 else "telemetry")
    rows = box.pending(n)
    box.close()
    assert not Path(f"{path}-wal").exists()
    return rows


def overwrite_pages(path: Path, pages: list[int]) -> None:
    rng = random.Random(7)
    with path.open("r+b") as f:
        for page in pages:
            f.seek(page * PAGE)
            f.write(rng.randbytes(PAGE))


@pytest.mark.parametrize("form", ["random_bytes", "truncated", "overwritten_pages", "empty_folder", "foreign_db",
                                  "other_columns", "invalid_rows"])
def test_damage_is_told(tmp_path, form):
    path = tmp_path / "outbox.sqlite"
    if form == "random_bytes":
        path.write_bytes(random.Random(1).randbytes(3 * PAGE))
    elif form == "truncated":
        previous_run(path)
        os.truncate(path, path.stat().st_size // 2)
    elif form == "overwritten_pages":
        previous_run(path)
        overwrite_pages(path, [40])
    elif form == "empty_folder":
        path.mkdir()
    else:
        db = sqlite3.connect(path)
        if form == "foreign_db":
            db.execute("CREATE TABLE trips (id INTEGER PRIMARY KEY, km REAL)")
        elif form == "other_columns":
            db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, message TEXT)")
        else:  # rows the schema's CHECK would refuse, written past it
            db.close()
            previous_run(path, n=3)
            db = sqlite3.connect(path)
            db.execute("PRAGMA ignore_check_constraints = ON")
            db.execute("INSERT INTO outbox (topic, payload, qos, retain, kind) VALUES ('t', x'00', 1, 0, 'other')")
        db.commit()
        db.close()
    before = path.read_bytes() if path.is_file() else None
    assert damage(path)
    assert before is None or path.read_bytes() == before  # looking changes nothing


@pytest.mark.parametrize("form", ["missing", "empty_file", "sound"])
def test_sound_or_new_files_are_not_damage(tmp_path, form):
    path = tmp_path / "outbox.sqlite"
    if form == "empty_file":
        path.write_bytes(b"")
    elif form == "sound":
        previous_run(path, n=10)
    assert damage(path) is None


def test_a_folder_with_files_is_not_moved(tmp_path):
    (tmp_path / "outbox.sqlite").mkdir()
    (tmp_path / "outbox.sqlite" / "notes.txt").write_text("someone's data")
    with pytest.raises(IsADirectoryError, match="with files in it"):
        damage(tmp_path / "outbox.sqlite")


def test_salvage_reads_past_damaged_pages(tmp_path):
    path = tmp_path / "outbox.sqlite"
    rows = previous_run(path)  # about 100 leaf pages
    overwrite_pages(path, [30, 55, 56])
    got = salvage(path)
    assert [r.id for r in got] == sorted(r.id for r in got)
    by_id = {r.id: r for r in rows}
    assert all(by_id[r.id] == r for r in got)  # every salvaged row exactly as written
    assert got[0] == rows[0] and got[-1] == rows[-1]  # before the damage, and after it
    assert len(rows) - 3 * 5 <= len(got) < len(rows)  # only rows of the three pages (3 or 4 a page) are lost


def test_salvage_of_a_truncated_file_keeps_the_rows_before_the_cut(tmp_path):
    path = tmp_path / "outbox.sqlite"
    rows = previous_run(path)
    os.truncate(path, path.stat().st_size // 2)
    got = salvage(path)
    assert 0.3 * len(rows) < len(got) < len(rows) and got == rows[: len(got)]


def test_salvage_never_brings_back_acknowledged_rows(tmp_path):
    path = tmp_path / "outbox.sqlite"
    rows = previous_run(path)
    box = Outbox(path)
    box.delete_many(r.id for r in rows[:250])  # acknowledged: their pages are freed
    box.close()
    overwrite_pages(path, [3])  # damaged where no live row is
    assert damage(path) and salvage(path) == rows[250:]


def test_salvage_leaves_out_invalid_rows_and_reads_nothing_from_garbage(tmp_path):
    path = tmp_path / "outbox.sqlite"
    rows = previous_run(path, n=4)
    db = sqlite3.connect(path)
    db.execute("PRAGMA ignore_check_constraints = ON")
    db.execute("INSERT INTO outbox (topic, payload, qos, retain, kind) VALUES ('t', x'00', 1, 0, 'other')")
    db.execute("INSERT INTO outbox (topic, payload, qos, retain, kind) VALUES ('t', 'text', 1, 0, 'alert')")
    db.commit()
    db.close()
    assert salvage(path) == rows
    garbage = tmp_path / "garbage"
    garbage.write_bytes(random.Random(2).randbytes(PAGE))
    assert salvage(garbage) == [] and salvage(tmp_path) == []


def test_quarantine_moves_the_file_and_its_companions_and_never_replaces_one(tmp_path):
    path = tmp_path / "outbox.sqlite"
    asides = []
    for i in range(2):  # the same second twice: the second gets its own name
        path.write_text(f"damaged {i}")
        Path(f"{path}-wal").write_text(f"wal {i}")
        asides.append(quarantine(path))
    assert asides[0] != asides[1] and asides[0].name.startswith("outbox.sqlite.damaged-")
    for i, aside in enumerate(asides):
        assert aside.parent == tmp_path and aside.read_text() == f"damaged {i}"
        assert Path(f"{aside}-wal").read_text() == f"wal {i}"
    assert not path.exists() and not Path(f"{path}-wal").exists()
