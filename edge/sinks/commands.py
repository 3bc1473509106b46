"""The commands a client may send (cmd/ack, cmd/calibrate, cmd/reload): everything is untrusted and validated
here, against docs/schemas/cmd_<name>.json; a bad payload becomes a CommandError whose reason goes to cmd/result.

A valid command becomes a `Command` handed to the process's handler, which runs it where the state it changes
lives (the session's worker, the main thread for a reload) and answers through `reply` when done, from any thread:
nothing waits for it on the MQTT network thread.
"""

from __future__ import annotations

import json
import logging
import queue
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edge.names import ALERT_KINDS, SCHEMA_VERSION

log = logging.getLogger("edge.mqtt")

MAX_COMMAND_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: dict[str, Any]
    request_id: str | None
    answer: Callable[[dict[str, Any]], None]  # publishes a cmd/result payload

    def reply(self, fields: Mapping[str, Any]) -> None:
        """Answer with the handler's fields: `ok` (default true), `reason`, and anything else it has to say."""
        self.answer(result_payload(self.name, self.request_id, fields))


def result_payload(name: str, request_id: str | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The cmd/result payload (docs/schemas/cmd_result.json): ok unless the fields say otherwise, and a refusal
    always with a reason."""
    result: dict[str, Any] = {"v": SCHEMA_VERSION, "ok": True, "command": name}
    if request_id is not None:
        result["request_id"] = request_id
    result.update({k: v for k, v in fields.items() if k not in ("v", "command", "request_id")})
    if not result["ok"] and not isinstance(result.get("reason"), str):
        result["reason"] = "refused"
    return result


class CommandError(ValueError):
    def __init__(self, reason: str, request_id: str | None = None):
        super().__init__(reason)
        self.request_id = request_id


def _short_str(value: Any, field: str, max_len: int, request_id: str | None = None) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise CommandError(f"'{field}' must be a string of 1 to {max_len} characters", request_id)
    return value


def parse_command(name: str, raw: bytes) -> tuple[dict[str, Any], str | None]:
    """Validate one command payload (docs/schemas/cmd_<name>.json); returns (arguments, request_id)."""
    if len(raw) > MAX_COMMAND_BYTES:
        raise CommandError(f"payload too large ({len(raw)} bytes > {MAX_COMMAND_BYTES})")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CommandError("payload is not UTF-8 text") from None
    except (ValueError, RecursionError) as err:
        raise CommandError(f"payload is not JSON: {str(err)[:80]}") from None
    if not isinstance(doc, dict):
        raise CommandError("payload must be a JSON object")
    request_id = doc.pop("request_id", None)
    if request_id is not None:
        request_id = _short_str(request_id, "request_id", 64)
    v = doc.pop("v", 1)
    if type(v) is not int or v != 1:  # not `v != 1`: true == 1.0 == 1 in Python, but neither is the integer 1
        raise CommandError("unsupported version: 'v' must be 1", request_id)
    allowed = {"ack": {"id", "kind"}, "calibrate": {"what"}, "reload": set()}[name]
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise CommandError(f"unknown field(s): {', '.join(u[:32] for u in unknown[:5])}", request_id)
    if name == "ack":
        if len(doc) != 1:
            raise CommandError("ack needs exactly one of 'id' or 'kind'", request_id)
        if "id" in doc:
            _short_str(doc["id"], "id", 128, request_id)
        elif doc["kind"] not in ALERT_KINDS:
            raise CommandError(f"'kind' must be one of {', '.join(ALERT_KINDS)}", request_id)
    elif name == "calibrate" and doc.get("what", "all") not in ("eyes", "pose", "all"):
        raise CommandError("'what' must be one of eyes, pose, all", request_id)
    return doc, request_id


def dispatch(
    name: str,
    raw: bytes,
    retained: bool,
    handler: Callable[[Command], None] | None,
    answer: Callable[[dict[str, Any]], None],
) -> None:
    """Validate one command and hand it to `handler`, which answers through the Command when it has run it; a
    refusal is answered here. A retained command (delivered because it was left on the broker, on every subscribe,
    i.e. on every start of the daemon) is answered but never run. Never raises."""
    request_id: str | None = None
    try:
        try:
            args, request_id = parse_command(name, raw)
        except CommandError as err:
            if not retained:
                raise
            args, request_id = {}, err.request_id
        if retained:
            raise CommandError("retained commands are ignored (clear it: publish an empty retained message on this "
                               "topic)", request_id)
        if handler is None:
            raise CommandError("commands are not handled by this process", request_id)
        handler(Command(name, args, request_id, answer))
    except CommandError as err:
        log.info("MQTT command %s rejected: %s", name, err)
        answer(result_payload(name, err.request_id, {"ok": False, "reason": str(err)}))
    except Exception as err:  # the handler's bug must not kill the caller (paho's network thread)
        log.exception("MQTT command %s failed", name)
        answer(result_payload(name, request_id, {"ok": False, "reason": f"internal error: {type(err).__name__}"}))


def queue_or_refuse(waiting: queue.Queue[Command], command: Command) -> None:
    """Queue a command for the thread that runs it, or refuse it at once when `waiting` is full ("busy"): a stalled
    runner never makes the queue grow without bound, and no command goes unanswered."""
    try:
        waiting.put_nowait(command)
    except queue.Full:
        command.reply({"ok": False, "reason": f"busy: {waiting.maxsize} commands are waiting to run"})
