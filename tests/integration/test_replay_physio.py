"""`dms replay` with physiology: a drive folder's physio.csv, and `--physio CSV` beside a bare video."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from edge.sources.recording import DriveWriter
from edge.types import Frame
from tests.integration.test_replay_cli import STATE_SCHEMA, dms, read_jsonl
from tests.numbered_frames import H, W, draw_number
from tests.physio_signals import clean_stream, write_physio_csv

SECONDS, FPS = 40.0, 5.0
LEADS_OFF_FROM = 20.0
# A 20 s window and a 10 s baseline keep the drive short; the defaults (60 s, 300 s) need minutes of it.
CONFIG = "[physio]\nwindow_s = 20.0\nhop_s = 5.0\nbaseline_s = 10.0\n"


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 s of frames (no face) at 5 fps, and a 250 Hz ECG + Grove GSR physio.csv whose leads come off at 20 s."""
    folder = tmp_path_factory.mktemp("physio") / "drive"
    with DriveWriter(folder, device_id="test", fps=FPS, frame_size=(W, H)) as writer:
        for i in range(int(SECONDS * FPS)):
            writer.write_frame(Frame(draw_number(i % 256), i / FPS, i))
    stream, _ = clean_stream(SECONDS, leads_off=((LEADS_OFF_FROM, SECONDS),))
    write_physio_csv(folder / "physio.csv", stream)
    (folder.parent / "dms.toml").write_text(CONFIG)
    return folder


def physio_of(path: Path) -> list[tuple[float, dict]]:
    """(state time, payload.physio) of every state line, each validated against the schema."""
    out = []
    for m in read_jsonl(path):
        jsonschema.validate(m["payload"], STATE_SCHEMA)
        out.append((m["payload"]["t"], m["payload"]["physio"]))
    return out


def estimates(states: list[tuple[float, dict]]) -> dict[float, dict]:
    """The distinct estimates, by the time of their window's end."""
    return {p["t"]: p for _, p in states if p["reason"] not in ("off", "no_sensor")}


def test_a_drive_replays_its_own_physiology(drive, tmp_path):
    out = tmp_path / "drive.jsonl"
    proc = dms("replay", str(drive), "--config", str(drive.parent / "dms.toml"), "--jsonl", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    states = physio_of(out)
    # before the first hop there is no estimate yet: the sensor is configured, nothing is known
    assert all(p["reason"] == "no_sensor" for t, p in states if t < 5.0)
    by_t = estimates(states)
    assert sorted(by_t) == pytest.approx([5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0])  # the last frame is at 39.8 s
    reasons = [by_t[t]["reason"] for t in sorted(by_t)]
    assert "baseline" in reasons and reasons[-1] is None
    assert reasons.index("baseline") < reasons.index(None)  # learning the driver first, then the stress model
    learning = [p for p in by_t.values() if p["reason"] is not None]
    assert all(p["stress"] is None and p["stress_level"] == "unknown" for p in learning)
    classified = [p for p in by_t.values() if p["reason"] is None]
    assert all(sum(p["stress"].values()) == pytest.approx(1.0, abs=1e-3) for p in classified)
    assert all(p["stress_level"] == max(p["stress"], key=p["stress"].get) for p in classified)
    # the physiological stress reaches fusion: payload.stress rests on it from the first classified window
    first = min(p["t"] for p in classified)
    fused = [m["payload"]["stress"] for m in read_jsonl(out) if m["payload"]["physio"]["t"] >= first]
    assert fused and all("physio" in s["sources"] and s["score"] is not None for s in fused)
    # heart rate of the synthetic 75 bpm once the window holds enough beats, until the leads are off
    assert by_t[20.0]["hr_bpm"] == pytest.approx(75.0, abs=2.0) and by_t[20.0]["ecg_quality"] > 0.9
    assert by_t[25.0]["hr_bpm"] == pytest.approx(75.0, abs=2.0)
    assert by_t[35.0]["hr_bpm"] is None and by_t[35.0]["ecg_quality"] < 0.3
    # the skin is still read with the leads off
    assert by_t[35.0]["scl"] == pytest.approx(5.0, rel=0.05) and by_t[35.0]["eda_quality"] > 0.9
    # the state between two estimates repeats the latest one
    assert all(p == by_t[p["t"]] for t, p in states if p["t"] in by_t)

    again = tmp_path / "again.jsonl"
    dms("replay", str(drive), "--config", str(drive.parent / "dms.toml"), "--jsonl", str(again), "--quiet")
    assert again.read_text() == out.read_text()


def test_physio_csv_beside_a_bare_video(drive, tmp_path):
    out = tmp_path / "bare.jsonl"
    proc = dms("replay", str(drive / "video.mkv"), "--physio", str(drive / "physio.csv"), "--config",
               str(drive.parent / "dms.toml"), "--jsonl", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    by_t = estimates(physio_of(out))
    assert len(by_t) >= 6 and by_t[min(by_t, key=lambda t: abs(t - 20.0))]["hr_bpm"] == pytest.approx(75.0, abs=2.0)


def test_a_physio_csv_that_is_no_physio_log_is_a_usage_error(drive, tmp_path):
    bad = tmp_path / "physio.csv"
    bad.write_text("time,ecg,gsr\n0.0,512,300\n")
    proc = dms("replay", str(drive / "video.mkv"), "--physio", str(bad))
    assert proc.returncode == 2 and f"{bad}:1: header must start with t_s" in proc.stderr
