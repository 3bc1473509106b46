"""Route what native libraries print straight to fd 2 into logging, so the journal stays clean and nothing is lost.

LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" for every interpreter; PortAudio's init prints ~60
ALSA/JACK lines on a machine without sound cards. Neither can be silenced by a variable. While a native call runs,
fd 2 is pointed at a temporary file; afterwards each line is logged at the level `level_of(line)` gives.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# fd 2 is process-wide: two threads swapping it at once could leave it pointing at a closed capture file.
# Reentrant, so a capture nested inside another on the same thread restores in stack order.
_FD2_LOCK = threading.RLock()


def info_at_debug(line: str) -> int:
    """LiteRT's rule: its "INFO:" lines are routine (debug), anything else deserves a warning."""
    return logging.DEBUG if line.startswith("INFO:") else logging.WARNING


@contextmanager
def native_stderr_to_log(
    logger: logging.Logger, prefix: str, level_of: Callable[[str], int] = info_at_debug
) -> Iterator[None]:
    """Capture fd 2 for the duration of the block and log each non-blank line as "`prefix`: line"."""
    with _FD2_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all
            yield
            return
        with tempfile.TemporaryFile(mode="w+b") as capture:
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                for line in capture.read().decode(errors="replace").splitlines():
                    if line.strip():
                        logger.log(level_of(line), "%s: %s", prefix, line)
