"""A real PostgreSQL server for tests, on a free loopback port, in a temporary folder; trust authentication.

Needs Debian's `postgresql` (its binaries under /usr/lib/postgresql/<version>/bin; the distribution's own cluster
is not used). PostgreSQL refuses to run as root: started as root, it runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.mosquitto import free_port, stop_process


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def available() -> str | None:
    """None when a server can be started, else why not."""
    if _bin_dir() is None:
        return "PostgreSQL is missing (apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is missing (the dashboard extra)"
    return None


class Postgres:
    host = "127.0.0.1"

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        assert bin_dir is not None, available()
        self.bin = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dms-postgres-"))
        self.data = self.dir / "data"
        self.proc: subprocess.Popen[bytes] | None = None
        # as the postgres user when root, the process itself (not a wrapper), so that a signal reaches the server
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "dms", "--auth=trust", "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True, cwd=self.dir, **self._as)

    @property
    def url(self) -> str:
        return f"postgresql://dms@{self.host}:{self.port}/postgres"

    def start(self, timeout: float = 30.0) -> None:
        import psycopg

        assert self.proc is None, "already running"
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.dir),
             "-c", f"listen_addresses={self.host}", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.dir, **self._as,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}: {self.proc.stderr.read()[-2000:]!r}")
            try:
                psycopg.connect(self.url, connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"postgres did not accept connections on {self.host}:{self.port} within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None:  # SIGINT, fast shutdown: open client connections are cut, as in an outage
            stop_process(self.proc, signal.SIGINT, timeout)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
