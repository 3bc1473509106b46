"""Waiting on a condition in tests: poll it with a deadline, never sleep a fixed time and hope."""

from __future__ import annotations

import time
from typing import Callable


def wait_until(condition: Callable[[], object], timeout: float = 10.0, step: float = 0.01) -> bool:
    """True as soon as `condition()` is true; False if it is not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False
