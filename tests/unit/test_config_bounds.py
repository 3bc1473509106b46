"""Every number of the config has an upper limit with a reason, and the limit holds: a hostile config (a 1e23 px
frame, 2**63 samples, a 1e300 clip limit, NaN) is refused naming each key, never passed on to overflow later."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import annotated_types as at
import pytest
from pydantic.fields import FieldInfo

from edge.cli import main
from edge.config import Config, ConfigError, config_from_dict
from edge.config._base import number_fields, why
from edge.config.limits import UNBOUNDED, limits_markdown

ROOT = Path(__file__).resolve().parents[2]
NUMBERS = number_fields(Config)  # every number of every section, found from the classes: a new one is in it
# A new number needs a limit (`bounded()` in edge/config) or an entry, with its reason, in the allow-list UNBOUNDED
# (edge/config/limits.py, which docs/config.md shows).
BOUNDED = sorted(set(NUMBERS) - set(UNBOUNDED))


def _upper(info: FieldInfo) -> tuple[float, bool]:
    """(limit, inclusive) of a number's upper bound."""
    for m in info.metadata:
        if isinstance(m, at.Le):
            return m.le, True
        if isinstance(m, at.Lt):
            return m.lt, False
    raise AssertionError("no upper limit")


def _config_with(path: str, value: Any) -> dict:
    """A config dict setting one key; a tuple of numbers (vision.driver_region) gets `value` as its last element,
    the others left at their defaults."""
    default: Any = Config()
    for part in path.split("."):
        default = getattr(default, part)
    if isinstance(default, tuple):
        value = [*default[:-1], value]
    data: dict = {}
    *sections, key = path.split(".")
    node = data
    for s in sections:
        node = node.setdefault(s, {})
    node[key] = value
    return data


def _problems_of(path: str, value: Any) -> list[str]:
    """The problems naming `path` (or its tuple's element) when it is set to `value`; [] when it is accepted."""
    try:
        config_from_dict(_config_with(path, value))
    except ConfigError as err:
        return [p for p in err.problems if p.startswith(f"{path}:") or p.startswith(f"{path}.")]
    return []


def test_every_number_has_an_upper_limit_with_a_reason():
    assert len(NUMBERS) > 100  # the walk reaches every section, sub-sections and tuples included
    assert set(UNBOUNDED) <= set(NUMBERS), "an allow-listed key that no longer exists"
    assert all(UNBOUNDED.values()), "each unbounded number says why"
    missing = {}
    for path in BOUNDED:
        kind, info = NUMBERS[path]
        has_upper = any(isinstance(m, (at.Le, at.Lt)) for m in info.metadata)
        if not has_upper or not why(info):
            missing[path] = info.metadata
    assert missing == {}, "give these bounded(..., le=..., why=...) or add them to UNBOUNDED with a reason"


@pytest.mark.parametrize("path", BOUNDED)
def test_past_the_upper_limit_is_refused_with_the_key_and_the_reason(path):
    kind, info = NUMBERS[path]
    limit, inclusive = _upper(info)
    reason = why(info)
    if inclusive:
        assert _problems_of(path, kind(limit)) == []  # the limit itself is a valid value of the key
    just_past = (int(limit) + 1 if inclusive else int(limit)) if kind is int else (
        math.nextafter(limit, math.inf) if inclusive else float(limit))
    absurd = 2**63 - 1 if kind is int else 1e300
    shown = int(limit) if float(limit).is_integer() else limit
    for value in (just_past, absurd):
        (problem,) = _problems_of(path, value)
        assert f"{value!r} is {'above' if inclusive else 'not below'} {shown} " in problem, problem
        assert f"({reason})" in problem, problem


@pytest.mark.parametrize("path", [p for p in BOUNDED if NUMBERS[p][0] is float])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_floats_are_refused_with_the_key(path, value):
    (problem,) = _problems_of(path, value)
    assert "finite number" in problem, problem


@pytest.mark.parametrize("path", [p for p in BOUNDED if NUMBERS[p][0] is int])
@pytest.mark.parametrize("value", [1e23, 3.0, True], ids=["1e23", "3.0", "true"])
def test_an_integer_key_takes_only_an_integer(path, value):
    # A float that happens to be whole (1e23 is one) and a bool (an int to Python) are not integers.
    (problem,) = [p for p in _problems_of(path, value) if "integer" in p]
    assert f"got {value!r}" in problem, problem


def test_check_names_every_absurd_key_with_its_reason(tmp_path, capsys):
    """The hostile tester's values: each key is reported, not only the first, with why it is refused."""
    absurd = tmp_path / "absurd.toml"
    absurd.write_text("[camera]\nwidth = 1e23\nheight = 100000000000000000000000\n"
                      "[eyes]\nbaseline_samples = 9223372036854775807\n"
                      "[distraction]\ncalibration_samples = 9223372036854775807\n"
                      "[vision]\nclahe_clip_limit = 1e300\n"
                      "[state]\nstate_hz = nan\n")
    assert main(["check", "--config", str(absurd)]) == 2
    out = capsys.readouterr()
    assert "OK" not in out.out
    lines = out.err.splitlines()
    assert lines[0] == f"invalid config {absurd}:" and len(lines) == 7, out.err

    def line(key: str) -> str:
        (found,) = [x for x in lines if x.strip().startswith(f"{key}:")]
        return found

    assert "valid integer (got 1e+23)" in line("camera.width")  # a float is no pixel count, however whole
    assert "100000000000000000000000 is above 4320 (8K UHD;" in line("camera.height")
    samples = "9223372036854775807 is above"
    assert f"{samples} 600 (the baseline is the median of the last 600 frames" in line("eyes.baseline_samples")
    assert f"{samples} 108000 (an hour of driving at 30 fps" in line("distraction.calibration_samples")
    assert "1e+300 is above 256 (OpenCV clips a bin" in line("vision.clahe_clip_limit")
    assert "finite number (got nan)" in line("state.state_hz")


def test_the_limits_page_is_written_from_the_current_rules():
    assert (ROOT / "docs" / "config.md").read_text(encoding="utf-8") == limits_markdown(), (
        "docs/config.md is stale: run tools/config_limits.py")


@pytest.mark.parametrize("text, problem", [
    ("[camera]\nwidth = " + "9" * 5000 + "\n", "line 2: an integer of 5000 digits is too long to read"),
    ("x = " + "[" * 5000 + "]" * 5000 + "\n", "arrays or tables nested too deep to read"),
], ids=["5000-digit integer", "5000 nested arrays"])
def test_what_python_cannot_read_is_a_config_error(tmp_path, capsys, text, problem):
    """Not a ValueError or RecursionError out of the parser: a reload would raise it in the daemon's main loop."""
    path = tmp_path / "hostile.toml"
    path.write_text(text)
    assert main(["check", "--config", str(path)]) == 2
    assert problem in capsys.readouterr().err


def test_a_long_value_is_not_echoed_whole():
    (problem,) = _problems_of("camera.width", int("9" * 4000))
    assert problem == "camera.width: " + "9" * 40 + "... (4000 characters) is above 7680 (8K UHD; no camera this " \
                      "product supports is wider)"
