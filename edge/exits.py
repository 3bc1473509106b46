"""How a `dms` command ends: its exit status, defined once (README, "Commands")."""

from __future__ import annotations

EXIT_OK = 0  # done
EXIT_FAILURE = 1  # a failure while running
EXIT_USAGE = 2  # bad config, arguments or input, refused before anything ran
# A replay (dms replay, and dms eval or dms report on a video or drive) ran to its end, but left input out: frames
# that did not decode, a missing tail, malformed sensor lines (edge/skips.py). Its last stderr line says what.
EXIT_SKIPPED = 3
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C)


class UsageError(Exception):
    """A bad argument or input: reported on stderr, exit status 2."""
