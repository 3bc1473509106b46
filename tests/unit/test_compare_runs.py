"""tools/compare_runs.py: two runs' JSONL files in, events and state compared against the stated tolerances."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import compare_runs  # noqa: E402


def _state(t: float, frame: int) -> dict[str, Any]:
    return {"v": 1, "t": t, "frame": frame,
            "face": {"present": True, "quality": 0.9, "yaw": -10.0, "pitch": 3.0, "roll": 1.0, "size_px": 250.0},
            "eyes": {"left": "open", "closed_prob": 0.1, "closed_s": 0.0, "perclos": 0.2, "ear_left": 0.25},
            "drowsiness": {"kss": 5.2, "level": "alert", "blinks": 3},
            "alerts": [{"id": "dms-aaaa-microsleep-1", "kind": "microsleep", "level": "warning", "started_at": 0.4}]}


def _event(kind: str, type_: str, t: float) -> dict[str, Any]:
    return {"v": 1, "type": type_, "id": f"dms-aaaa-{kind}-1", "kind": kind, "level": "warning", "started_at": 0.4,
            "ended_at": None if type_ != "end" else t, "t": t}


def _run() -> list[dict[str, Any]]:
    return [{"topic": "state", "payload": _state(0.0, 0)},
            {"topic": "events", "payload": _event("microsleep", "start", 0.4)},
            {"topic": "state", "payload": _state(0.5, 12)},
            {"topic": "events", "payload": _event("microsleep", "end", 0.9)},
            {"topic": "state", "payload": _state(1.0, 24)}]


def _write(path: Path, messages: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(m) + "\n" for m in messages), encoding="utf-8")
    return path


def _compare(tmp_path: Path, other: list[dict[str, Any]], capsys) -> tuple[int, str]:
    rc = compare_runs.main([str(_write(tmp_path / "a.jsonl", _run())), str(_write(tmp_path / "b.jsonl", other))])
    return rc, capsys.readouterr().out


def test_identical_runs_pass(tmp_path, capsys):
    rc, out = _compare(tmp_path, _run(), capsys)
    assert rc == 0 and out.rstrip().splitlines()[-1].startswith("PASS: 2 events")


def test_float_rounding_within_tolerance_passes_and_is_reported(tmp_path, capsys):
    other = _run()
    other[2]["payload"]["face"]["yaw"] += 0.4
    other[2]["payload"]["eyes"]["closed_prob"] += 0.01
    other[3]["payload"]["t"] += 0.05  # a closure judged a frame later
    other[0]["payload"]["alerts"][0]["id"] = "dms-bbbb-microsleep-1"  # another device
    rc, out = _compare(tmp_path, other, capsys)
    assert rc == 0, out
    yaw = next(line for line in out.splitlines() if line.startswith("face.yaw"))
    assert "0.4" in yaw and "t=0.5" in yaw


@pytest.mark.parametrize("change, named", [
    (lambda run: run[2]["payload"]["face"].update(yaw=-15.0), "face.yaw"),
    (lambda run: run[4]["payload"]["eyes"].update(ear_left=0.3), "eyes.ear_left"),
    (lambda run: run[4]["payload"]["drowsiness"].update(kss=6.0), "drowsiness.kss"),
    (lambda run: run[0]["payload"]["eyes"].update(left="closed"), "eyes.left"),
    (lambda run: run[0]["payload"]["drowsiness"].update(blinks=4), "drowsiness.blinks"),
    (lambda run: run[0]["payload"]["eyes"].update(perclos=None), "eyes.perclos"),
    (lambda run: run[2]["payload"].update(frame=13), "frame 12 vs 13"),
    (lambda run: run[2]["payload"].update(alerts=[]), "alerts"),
    (lambda run: run[3]["payload"].update(t=1.1, ended_at=1.1), "event 2"),
    (lambda run: run[1]["payload"].update(kind="sleep"), "event 1"),
    (lambda run: run.pop(3), "events: 2 vs 1"),
    (lambda run: run.pop(4), "state messages: 3 vs 2"),
])
def test_a_difference_over_tolerance_fails_and_is_named(tmp_path, capsys, change, named):
    other = copy.deepcopy(_run())
    change(other)
    rc, out = _compare(tmp_path, other, capsys)
    assert rc == 1
    assert any(line.startswith("FAIL ") and named in line for line in out.splitlines()), out
    assert out.rstrip().splitlines()[-1].startswith("FAIL:")


def test_a_baseline_run_is_printed_beside_each_field_and_warns_when_over_tolerance(tmp_path, capsys):
    other, baseline = _run(), _run()
    other[2]["payload"]["face"]["yaw"] += 0.5
    baseline[2]["payload"]["face"]["yaw"] += 1.25
    args = [str(_write(tmp_path / n, r)) for n, r in (("a.jsonl", _run()), ("b.jsonl", other))]
    assert compare_runs.main([*args, "--baseline", str(_write(tmp_path / "base.jsonl", baseline))]) == 0
    out = capsys.readouterr().out
    yaw = next(line for line in out.splitlines() if line.startswith("face.yaw"))
    assert "0.5" in yaw and "[1.25]" in yaw and "WARNING" not in out
    baseline[4]["payload"]["face"]["yaw"] += 9.0  # the reference machine's own spread outgrew the tolerance
    assert compare_runs.main([*args, "--baseline", str(_write(tmp_path / "base.jsonl", baseline))]) == 0
    out = capsys.readouterr().out
    assert "WARNING: base.jsonl differs" in out and out.rstrip().splitlines()[-1].startswith("PASS")


def test_every_path_has_a_tolerance_with_a_reason():
    for path in ("t", "face.yaw", "eyes.closed_s", "emotion.scores.neutral", "alerts[*].started_at", "whatever"):
        tol, why = compare_runs.tolerance(path)
        assert tol > 0 and why


def test_a_file_that_is_not_a_run_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"topic": "state", "payload": {}}\nnot json\n', encoding="utf-8")
    rc = compare_runs.main([str(_write(tmp_path / "a.jsonl", _run())), str(bad)])
    assert rc == 2 and "bad.jsonl:2" in capsys.readouterr().err
    assert compare_runs.main([str(tmp_path / "a.jsonl"), str(tmp_path / "missing.jsonl")]) == 2
