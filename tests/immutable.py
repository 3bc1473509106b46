"""An immutable file or folder (chattr +i): refused even to root, where permission bits are not (the tests run as
root). Skips the test where the file system or the container does not allow it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """While inside: `path` cannot be written, renamed or deleted, nor (a folder) have entries added or removed."""
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)
