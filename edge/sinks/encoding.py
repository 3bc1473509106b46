"""The one JSON encoding of every sink's payloads (MQTT and JSON lines carry the same messages, byte for byte).

NaN and infinities are not JSON: they become null (RFC 8259; most parsers reject `NaN`). Values JSON does not know
become their `str()`. A payload must never take the daemon down.
"""

from __future__ import annotations

import json
import math
from typing import Any

_SEPARATORS = (",", ":")


def _finite(x: Any) -> Any:
    """`x` with every non-finite float replaced by None (dict keys become strings, tuples lists, as in JSON)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def dumps(payload: Any) -> str:
    """Compact JSON text of `payload`: NaN/inf as null, unknown types as their str()."""
    try:
        return json.dumps(payload, separators=_SEPARATORS, allow_nan=False)
    except (ValueError, TypeError):  # NaN/inf (ValueError) or a type JSON does not know (TypeError)
        return json.dumps(_finite(payload), separators=_SEPARATORS, allow_nan=False, default=str)


def encode(payload: Any) -> bytes:
    """`dumps` as UTF-8 bytes, the MQTT payload."""
    return dumps(payload).encode()
