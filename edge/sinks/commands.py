"""The commands a client may send (cmd/ack, cmd/calibrate, cmd/reload): everything is untrusted and validated
here, against docs/schemas/cmd_<name>.json; a bad payload becomes a CommandError whose reason goes to cmd/result."""

from __future__ import annotations

import json
from typing import Any

from edge.sinks import homeassistant as ha

MAX_COMMAND_BYTES = 4096
COMMANDS = ("ack", "calibrate", "reload")


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
        elif doc["kind"] not in ha.ALERT_KINDS:
            raise CommandError(f"'kind' must be one of {', '.join(ha.ALERT_KINDS)}", request_id)
    elif name == "calibrate" and doc.get("what", "all") not in ("eyes", "pose", "all"):
        raise CommandError("'what' must be one of eyes, pose, all", request_id)
    return doc, request_id
