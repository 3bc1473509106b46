"""The numbers without an upper limit, and docs/config.md: the range of every number of the config and why its
upper limit lies there, written from the section classes (`tools/config_limits.py`), so it cannot drift from them."""

from __future__ import annotations

import annotated_types as at

from edge.config import Config
from edge.config._base import number_fields, why

_SIGNS = ((at.Gt, "gt", ">"), (at.Ge, "ge", "≥"), (at.Lt, "lt", "<"), (at.Le, "le", "≤"))

HEADER = """# Configuration limits

<!-- Written by tools/config_limits.py from edge/config; tests/unit/test_config_bounds.py fails when it is stale. -->

`config/dms.toml` documents every key with its unit, default and the reason for the number. This page gives the
range `dms check`, `dms run` and a reload accept for each number, and why its upper limit lies there: a limit no
real deployment reaches, but one that stops a value that would overflow, exhaust memory or mean nothing (a
10²³ px frame, 2⁶³ samples). A value past it is refused with the key, the limit and this reason, e.g.

    camera.width: 100000000000000000000000 is above 7680 (8K UHD; no camera this product supports is wider)

Every error of a file is reported at once. NaN and infinities are refused for every number; an integer key takes
only an integer (not `1e23`, `3.0` or `true`); an integer too long for Python to read (over 4300 digits) is named by
its line. Cross-key rules (e.g. `reopen_max_s >= reopen_initial_s`) are in `config/dms.toml`.

| key | type | default | range | why the upper limit |
|---|---|---|---|---|
"""

# The numbers with no upper limit, each with the reason; every other number has one (`bounded()`), and
# tests/unit/test_config_bounds.py fails for a new number with neither.
UNBOUNDED = {
    # A limit would be a second, guessed list of the machine's devices: the sound source refuses an index PortAudio
    # does not have when it opens the device, naming the inputs there are (edge/sources/audio.py).
    "audio.device": "none: a PortAudio device index; one this machine lacks is refused when the device opens",
}


def _default(path: str) -> object:
    value: object = Config()
    for part in path.split("."):
        value = getattr(value, part)
    return "unset" if value is None else value


def _format(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, tuple):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)


def limits_markdown() -> str:
    rows = []
    for path, (kind, info) in sorted(number_fields(Config).items()):
        limits = [f"{sign} {_format(getattr(m, attr))}" for cls, attr, sign in _SIGNS
                  for m in info.metadata if isinstance(m, cls)]
        reason = why(info) or UNBOUNDED[path]
        rows.append(f"| `{path}` | {kind.__name__} | {_format(_default(path))} | {', '.join(limits) or 'any'} "
                    f"| {reason} |")
    return HEADER + "\n".join(rows) + "\n"
