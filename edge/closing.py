"""Closing several things where one may fail: each is closed whatever the ones before raised, and a failure is
logged by name, so one broken part never leaves the others open (MqttSink.close, the replay's sources and sinks)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable


def closing_step(log: logging.Logger, subject: str, what: str, step: Callable[[], object]) -> str | None:
    """Run one step of a shutdown: an error is logged ("<subject>: at close, could not <what>: <error>") and
    returned as text, never raised, so the steps after it still run."""
    try:
        step()
    except Exception as err:  # noqa: BLE001 (shutdown goes on; the error is reported)
        log.error("%s: at close, could not %s: %s", subject, what, err)
        return f"could not {what}: {err}"
    return None


def close_all(log: logging.Logger, subject: str, steps: Iterable[tuple[str, Callable[[], object]]]) -> list[str]:
    """Every step, in order, whatever the ones before raised; what failed, as closing_step says it."""
    return [failed for what, step in steps if (failed := closing_step(log, subject, what, step)) is not None]
