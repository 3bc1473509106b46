"""SerialSource on a real pseudo-terminal pair made by socat: lines in order, garbage skipped, and recovery when
the port vanishes and comes back (issue 8: "re-created recovers within 2 s")."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from edge.config import SerialConfig
from edge.sources.serial import SerialSource
from edge.sources.serial_lines import PhysioSample
from tests.polling import wait_until

pytestmark = pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat (apt-get install socat)")


class PtyPair:
    """socat linking two ptys: the test writes to `a`, the source reads `b`."""

    def __init__(self, folder: Path):
        self.a = folder / "ttyA"
        self.b = folder / "ttyB"
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        """Start socat; return the monotonic time both links exist."""
        self.proc = subprocess.Popen(
            ["socat", "-d", "-d", f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(lambda: self.a.exists() and self.b.exists(), 10.0, 0.002), "socat made no ptys"
        return time.monotonic()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # socat removes its links on exit
            self.proc.wait(timeout=10)
        self.proc = None


class Writer:
    """Writes csv lines to the pty's other end; reopens it when socat restarts."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def write(self, data: bytes) -> bool:
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            os.write(self.fd, data)
            return True
        except OSError:
            self.close()
            return False

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = None


@pytest.fixture
def pty(tmp_path):
    pair = PtyPair(tmp_path)
    pair.start()
    yield pair
    pair.stop()


def line(seq: int) -> bytes:
    return f"{seq % 65536},{seq * 4},{seq / 1000:.3f},{300 + seq % 7}\r\n".encode()


def collect(src: SerialSource, got: list[PhysioSample], count: int, timeout: float = 10.0) -> bool:
    def enough() -> bool:
        got.extend(src.drain())
        return len(got) >= count

    return wait_until(enough, timeout)


def test_lines_in_order_garbage_skipped_and_recovery(pty: PtyPair):
    cfg = SerialConfig(port=str(pty.b), read_timeout_s=1.0, reopen_initial_s=0.2, reopen_max_s=1.0)
    writer = Writer(pty.a)
    with SerialSource(cfg) as src:
        assert wait_until(lambda: src.health().state == "starting" and src._port_open, 5.0)
        # 1. lines arrive in order with their values; garbage between them is counted and skipped
        garbage = [b"\xff\xfe\x00garbage\n", b"1,2,nan,4\n", b"1,2,3,4*00\n", b"x" * 1000 + b"\n", b"\n"]
        for seq in range(300):
            assert writer.write(line(seq))
            if seq % 60 == 30:
                assert writer.write(garbage[(seq // 60) % len(garbage)])
            if seq % 25 == 0:
                time.sleep(0.01)
        got: list[PhysioSample] = []
        assert collect(src, got, 300), f"only {len(got)} samples; health {src.health()}"
        assert [s.seq for s in got] == list(range(300))
        assert [s.ecg for s in got] == [pytest.approx(seq / 1000) for seq in range(300)]
        assert [s.gsr for s in got] == [300 + seq % 7 for seq in range(300)]
        assert [s.t_sensor for s in got] == [pytest.approx(seq * 0.004) for seq in range(300)]
        assert all(b.t >= a.t for a, b in zip(got, got[1:]))  # pipeline-clock times never go back
        assert all(s.t <= s.t_arrival + 1e-9 for s in got)  # ...and no sample is placed after it arrived
        h = src.health()
        m = h.metrics
        assert h.state == "ok" and m["samples"] == 300 and m["gaps"] == 0 and h.last_error is None
        assert m["bad_lines"] == 3 and m["checksum_failures"] == 1  # the blank line is not counted
        assert m["lines"] == m["samples"] + m["bad_lines"] + m["checksum_failures"] + m["leads_off"]

        # 2. silence: the port stays open but the sensor says nothing
        assert wait_until(lambda: src.health().state == "silent", 3.0)
        assert "no byte" in (src.health().detail or "")

        # 3. the port vanishes: unavailable with a reason, the thread lives on
        writer.close()
        pty.stop()
        assert wait_until(lambda: src.health().state == "unavailable", 3.0)
        h = src.health()
        assert h.detail and str(pty.b) in h.detail
        assert src._thread is not None and src._thread.is_alive()
        time.sleep(2.5)  # let the backoff reach reopen_max_s: the slowest case
        assert src.health().state == "unavailable" and src.health().errors >= 3

        # 4. the port comes back under the same name: samples flow again within 2 s
        stop_writing = threading.Event()
        created = pty.start()

        def keep_writing() -> None:
            seq = 1000
            while not stop_writing.is_set():
                if writer.write(line(seq)):
                    seq += 1
                time.sleep(0.004)

        feeder = threading.Thread(target=keep_writing, daemon=True)
        feeder.start()
        try:
            src.drain()
            first: list[PhysioSample] = []
            assert collect(src, first, 1, timeout=5.0), f"no sample after re-creation; health {src.health()}"
            recovered_s = time.monotonic() - created
            assert wait_until(lambda: src.health().state == "ok", 2.0)
            print(f"recovery: first sample {recovered_s:.3f} s after the port was re-created")
            assert recovered_s <= 2.0
            more: list[PhysioSample] = []
            assert collect(src, more, 50, timeout=5.0)
            seqs = [s.seq for s in first + more]
            assert seqs == sorted(seqs) and seqs[0] >= 1000
            h = src.health()
            assert h.state == "ok" and h.reopens == 1 and h.metrics["rate"] > 0
        finally:
            stop_writing.set()
            feeder.join(timeout=5)
            writer.close()
    assert src.health().state == "stopped"
    assert not src._thread.is_alive()
