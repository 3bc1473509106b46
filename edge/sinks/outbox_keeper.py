"""The MQTT sink's outbox: the durable file when it can be used, an in-memory outbox while it cannot.

At start the file is opened, and healed if it is damaged (outbox_heal: moved aside, its readable rows salvaged into
a fresh one). When it cannot be opened (no permission, its folder is a file, a damaged file that cannot be moved
aside) or a write fails (disk full, I/O error), events are stored in memory instead (the spill): every event from
then on, so that they keep their order. The sink's pump thread calls `retry`; every `retry_s` it opens the file if
need be and moves the rows still in memory (those not acknowledged yet) into it, and the outbox is durable again.

Row ids: the pump hands rows in id order and remembers the last one handed. A spill that starts after a write
failure numbers its rows after the file's last id, so the file's rows and the spill's are one sequence and the move
keeps the ids: nothing the pump knows changes. A spill that starts without a file numbers from 1; when the file
opens, its own rows (a previous run's) come first, the spill's are renumbered after them, and `retry` says so: the
pump hands every row again from the first. Rows it had handed already are sent twice, which subscribers drop (by
id, type and t); none is lost.

Threads: `put_many` runs on the caller's thread and does at most one transaction on the file (none while the
events go to memory; once per recovery it waits for the move's last transaction); `pending`, `delete_many` and
`retry` run on the pump thread, and so does all opening, healing and moving.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.faultlog import FaultLog
from edge.sinks.outbox import MEMORY, Kind, OpenAlert, Outbox, Row
from edge.sinks.outbox_heal import damage, quarantine, salvage

__all__ = ["OutboxKeeper", "Repair"]

log = logging.getLogger("edge.mqtt")

_KEPT = "MQTT: outbox not durable: {n} more event(s) in the last {s:.0f} s kept in memory"


@dataclass(frozen=True)
class Repair:
    reason: str  # why the file was damaged
    aside: Path  # where it is kept
    salvaged: int  # rows read from it into the fresh outbox


class OutboxKeeper:
    def __init__(self, path: str | Path, max_rows: int, faults: FaultLog, retry_s: float = 30.0):
        """Never raises for the file: one that cannot be used leaves the events in memory (see `problem`)."""
        self.path = Path(path)
        self.max_rows = max_rows
        self.faults = faults
        self.retry_s = retry_s
        self.persist_failed = 0  # events kept in memory because the file could not take them
        self.repair: Repair | None = None
        self._lock = threading.Lock()  # put_many against the switch to the file
        self._spill = Outbox(MEMORY, max_rows)
        self._file: Outbox | None = None
        self._problem: str | None = "not opened yet"  # why events go to memory; None while durable
        self._file_unread = False  # the file could not be read while spilling: rows in memory went first
        self._next_retry = time.monotonic() + retry_s
        try:
            self._become_durable()
        except (sqlite3.Error, OSError) as err:
            self._problem = f"outbox not persistent: {err}"
            self.faults.fault("persist", "MQTT: cannot open the outbox %s (%s): alerts are kept in memory until it "
                              "can (retried every %g s)", self.path, err, retry_s, kind=self._problem, summary=_KEPT)

    # -- the caller's thread ----------------------------------------------------------------------------------
    def put_many(self, messages: Sequence[tuple[str, bytes]], qos: int = 1, retain: bool = False,
                 kind: Kind = "alert", open_alert: OpenAlert | None = None) -> list[int]:
        """Store one event's messages: in the file (one transaction), or in memory while the file cannot be used
        (a failed write starts that). Raises only what the memory outbox raises (a bad kind)."""
        with self._lock:
            if self._problem is None and self._file is not None:
                try:
                    return self._file.put_many(messages, qos, retain, kind, open_alert)
                except sqlite3.Error as err:
                    self._problem = f"outbox write failed ({err}): alerts are kept in memory only"
                    self._spill.reserve_ids(self._file.last_id)  # one sequence with the file's rows
                    self._next_retry = time.monotonic() + self.retry_s
            ids = self._spill.put_many(messages, qos, retain, kind, open_alert)
            self.persist_failed += 1
            problem = self._problem
        self.faults.fault("persist", "MQTT: %s (retried every %g s)", problem, self.retry_s, kind=problem,
                          summary=_KEPT)
        return ids

    def left_open(self) -> list[OpenAlert]:
        """The alerts a previous run left open (Outbox.left_open); none without the file, or from a salvage."""
        return self._file.left_open() if self._file is not None else []

    # -- the pump thread --------------------------------------------------------------------------------------
    def pending(self, limit: int = 1000, after: int = 0) -> list[Row]:
        """Rows waiting for an acknowledgement, in id order: the file's, then those in memory. While events go to
        memory and the file cannot be read, those in memory go out first (live alerts before order)."""
        rows: list[Row] = []
        if self._file is not None:
            try:
                rows = self._file.pending(limit, after)
            except sqlite3.Error as err:
                if self._problem is None:
                    raise
                self._file_unread = True
                self.faults.fault("read", "MQTT: cannot read the outbox %s (%s): the events in memory go first",
                                  self.path, err, kind=str(err), level=logging.WARNING)
        if len(rows) < limit:
            rows += self._spill.pending(limit - len(rows), after)
        return rows

    def delete_many(self, row_ids: Iterable[int]) -> int:
        """Forget acknowledged rows (each is in the file or in memory: the file's ids end at its last_id). Raises
        the file's sqlite3.Error with its rows not deleted (the caller retries; those in memory are gone)."""
        ids, file = list(row_ids), self._file
        in_file = [i for i in ids if file is not None and i <= file.last_id]
        gone = self._spill.delete_many([i for i in ids if file is None or i > file.last_id])
        return gone + (file.delete_many(in_file) if file is not None and in_file else 0)

    def retry(self, now: float | None = None) -> bool | None:
        """When events go to memory and a retry is due: open the file (healing it) if need be and move the rows in
        memory into it. None when nothing changed; else the outbox is durable again, and True means the rows were
        renumbered: the pump must hand every row again from the first."""
        now = time.monotonic() if now is None else now
        if self._problem is None or now < self._next_retry:
            return None
        self._next_retry = now + self.retry_s
        moving = self._spill.count()
        try:
            rewind = self._become_durable()
        except (sqlite3.Error, OSError) as err:
            self.faults.fault("retry", "MQTT: the outbox %s is still not usable (%s)", self.path, err, kind=str(err),
                              level=logging.WARNING, summary="MQTT: {n} more outbox retries failed in {s:.0f} s")
            return None
        self.faults.clear("retry")
        self.faults.clear("read")
        self.faults.clear("persist", "MQTT: the outbox %s is durable again: %d row(s) moved into it from memory",
                          self.path, moving, level=logging.WARNING)
        return rewind

    # -- opening and moving -----------------------------------------------------------------------------------
    def _become_durable(self) -> bool:
        """Open the file if need be and move the rows in memory into it; True when the pump must rewind."""
        file = self._file or self._open()
        try:
            unseen = (self._file is None and file.count() > 0) or self._file_unread  # rows the pump never read
            renumbered = self._move_spill(file)
        except BaseException:
            if file is not self._file:
                file.close()
            raise
        return unseen or renumbered

    def _open(self) -> Outbox:
        reason = damage(self.path)
        if reason is not None:
            reason = " ".join(reason.split())[:300]
            try:
                aside = quarantine(self.path)
            except OSError as err:
                raise OSError(f"{self.path} is damaged ({reason}) and cannot be moved aside: {err}") from err
            rows = salvage(aside)
            self.repair = Repair(reason, aside, len(rows))
            log.error("MQTT: the outbox %s was damaged (%s): moved aside to %s, %d row(s) salvaged", self.path,
                      reason, aside, len(rows))
            with self._lock:  # they go out from memory should the fresh file not take them
                keep = not rows or rows[0].id > self._spill.last_id
                self._spill.put_rows(rows, keep_ids=keep)
        return Outbox(self.path, self.max_rows)

    def _move_spill(self, file: Outbox) -> bool:
        """Copy the rows in memory into `file`, then switch to it. True when they were renumbered. The bulk is
        copied while the caller's events keep going to memory; the few that came in meanwhile are copied with the
        lock held (the caller waits for that one transaction), so the move ends however fast events come."""
        after, keep_ids = 0, True
        for locked in (False, True):
            with self._lock if locked else contextlib.nullcontext():
                while rows := self._spill.pending(self.max_rows, after):
                    if after == 0:
                        keep_ids = rows[0].id > file.last_id
                    file.put_rows(rows, keep_ids)
                    after = rows[-1].id
                if locked:
                    file.note_open_alerts(self._spill.open_alert_notes())  # alerts opened or ended meanwhile
                    self._spill.clear_open_alerts()
                    file.reserve_ids(self._spill.last_id)  # acknowledged rows had ids too: new ones come after
                    self._spill.delete_many([r.id for r in self._spill.pending(self.max_rows)])
                    self._file, self._problem, self._file_unread = file, None, False
        return not keep_ids

    # -- state ------------------------------------------------------------------------------------------------
    @property
    def persistent(self) -> bool:
        return self._file is not None

    @property
    def problem(self) -> str | None:
        """Why alerts are not stored durably now; None while they are."""
        return self._problem

    @property
    def note(self) -> str | None:
        """What an operator should know though all is well: a repaired file."""
        r = self.repair
        return None if r is None else (f"outbox repaired: the damaged file ({r.reason}) is kept as {r.aside}; "
                                       f"{r.salvaged} row(s) salvaged")

    @property
    def dropped(self) -> dict[str, int]:
        file = self._file.dropped if self._file is not None else {}
        return {k: v + file.get(k, 0) for k, v in self._spill.dropped.items()}

    def count(self) -> int:
        return (self._file.count() if self._file is not None else 0) + self._spill.count()

    def in_memory(self) -> int:
        """Rows a restart would lose."""
        return self._spill.count()

    def metrics(self) -> dict[str, Any]:
        dropped, r = self.dropped, self.repair
        return {
            "pending": self.count(),
            "dropped_alerts": dropped["alert"],
            "dropped_telemetry": dropped["telemetry"],
            "persist_failed": self.persist_failed,
            "outbox_persistent": self.persistent,
            "outbox_quarantined": None if r is None else str(r.aside),
            "outbox_salvaged": None if r is None else r.salvaged,
        }

    def close(self) -> None:
        self._spill.close()
        if self._file is not None:
            self._file.close()
