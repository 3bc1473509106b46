"""sd_notify over a real AF_UNIX datagram socket standing in for systemd's $NOTIFY_SOCKET."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.systemd import Notifier


class FakeSystemd:
    """The receiving end of NOTIFY_SOCKET, as systemd binds it."""

    def __init__(self, address: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(2.0)

    def recv(self) -> str:
        return self.sock.recv(4096).decode()

    def pending(self) -> list[str]:
        self.sock.settimeout(0.05)
        out = []
        try:
            while True:
                out.append(self.recv())
        except (socket.timeout, BlockingIOError):
            return out
        finally:
            self.sock.settimeout(2.0)


@pytest.fixture
def socket_path(tmp_path: Path) -> str:
    path = str(tmp_path / "notify")
    assert len(path) < 100, "AF_UNIX paths are limited to 108 bytes"
    return path


@pytest.fixture
def systemd(socket_path: str) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(socket_path)
    yield fake
    fake.sock.close()


def test_messages_arrive_as_systemd_expects(systemd: FakeSystemd, socket_path: str) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": socket_path, "WATCHDOG_USEC": "10000000"})
    assert n.enabled and n.watchdog_interval_s == 5.0
    assert n.ready()
    assert systemd.recv() == "READY=1"
    assert n.status("models loaded\ncamera 30 fps")
    assert systemd.recv() == "STATUS=models loaded camera 30 fps"
    assert n.watchdog()
    assert systemd.recv() == "WATCHDOG=1"
    assert n.ready(status="running")
    assert systemd.recv() == "READY=1\nSTATUS=running"
    assert n.stopping()
    assert systemd.recv() == "STOPPING=1"
    n.close()


def test_reloading_carries_the_monotonic_time(systemd: FakeSystemd, socket_path: str) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": socket_path})
    before = time.monotonic_ns() // 1000
    assert n.reloading()
    after = time.monotonic_ns() // 1000
    first, second = systemd.recv().split("\n")
    assert first == "RELOADING=1"
    name, value = second.split("=")
    assert name == "MONOTONIC_USEC" and before <= int(value) <= after
    assert n.extend_timeout(30)
    assert systemd.recv() == "EXTEND_TIMEOUT_USEC=30000000"


def test_abstract_socket() -> None:
    name = f"dms-test-{uuid.uuid4().hex}"
    fake = FakeSystemd("\0" + name)
    try:
        n = Notifier.from_env({"NOTIFY_SOCKET": "@" + name})
        assert n.ready()
        assert fake.recv() == "READY=1"
    finally:
        fake.sock.close()


def test_one_socket_is_reused(systemd: FakeSystemd, socket_path: str) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": socket_path, "WATCHDOG_USEC": "2000000"})
    n.watchdog()
    first = n._sock
    for _ in range(5):
        n.watchdog()
    assert n._sock is first
    assert systemd.pending() == ["WATCHDOG=1"] * 6


def test_no_op_without_environment(tmp_path: Path) -> None:
    n = Notifier.from_env({})
    assert not n.enabled and n.watchdog_interval_s is None
    assert not n.ready() and not n.status("x") and not n.watchdog() and not n.stopping() and not n.reloading()
    # The real process environment may hold a NOTIFY_SOCKET (tests run under systemd): from_env() still works.
    assert isinstance(Notifier.from_env(), Notifier)


def test_watchdog_needs_watchdog_usec(systemd: FakeSystemd, socket_path: str) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": socket_path})
    assert n.watchdog_interval_s is None and not n.watchdog()
    assert Notifier.from_env({"NOTIFY_SOCKET": socket_path, "WATCHDOG_USEC": "bogus"}).watchdog_interval_s is None
    assert Notifier.from_env({"NOTIFY_SOCKET": socket_path, "WATCHDOG_USEC": "0"}).watchdog_interval_s is None
    assert systemd.pending() == []


def test_watchdog_pid_of_another_process_disables_the_watchdog(systemd: FakeSystemd, socket_path: str) -> None:
    env = {"NOTIFY_SOCKET": socket_path, "WATCHDOG_USEC": "4000000"}
    other = Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.watchdog_interval_s is None and not other.watchdog()
    assert other.ready()  # the notify socket itself still works
    assert systemd.recv() == "READY=1"
    mine = Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_interval_s == 2.0 and mine.watchdog()
    assert systemd.recv() == "WATCHDOG=1"
    assert Notifier.from_env({**env, "WATCHDOG_PID": "7"}, pid=7).watchdog_interval_s == 2.0


def test_a_vanished_socket_does_not_raise(socket_path: str, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeSystemd(socket_path)
    n = Notifier.from_env({"NOTIFY_SOCKET": socket_path, "WATCHDOG_USEC": "1000000"})
    assert n.ready()
    fake.sock.close()
    os.unlink(socket_path)
    with caplog.at_level(logging.WARNING, logger="edge.systemd"):
        for _ in range(3):
            assert not n.watchdog()
        assert not n.stopping()
    assert len([r for r in caplog.records if "sd_notify" in r.getMessage()]) == 1  # logged once, not per ping
    # systemd re-creates the socket (daemon-reexec): the next send reconnects.
    again = FakeSystemd(socket_path)
    try:
        assert n.watchdog()
        assert again.recv() == "WATCHDOG=1"
    finally:
        again.sock.close()


def test_never_existing_socket_and_bad_address(tmp_path: Path) -> None:
    assert not Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nothing")}).ready()
    bad = Notifier.from_env({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not bad.enabled and not bad.ready()


def test_a_full_notify_queue_never_blocks(tmp_path):
    """A receiver that stops reading: sends are dropped, not blocking the daemon's main loop."""
    import socket
    import threading

    from edge.systemd import Notifier

    path = tmp_path / "notify"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    try:
        notifier = Notifier(str(path), watchdog_usec=1_000_000)
        done = threading.Event()

        def flood() -> None:
            for _ in range(500):  # far beyond the kernel's datagram queue (~10 by default)
                notifier.watchdog()
            done.set()

        threading.Thread(target=flood, daemon=True).start()
        assert done.wait(5.0), "notify blocked on a full queue"
        assert receiver.recv(64) == b"WATCHDOG=1"  # what fitted arrived
    finally:
        receiver.close()
