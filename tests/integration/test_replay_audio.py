"""`dms replay` with cabin audio: `--audio WAV` beside a bare video, and a drive folder's own audio.wav."""

from __future__ import annotations

import shutil
import wave

import jsonschema
import numpy as np
import pytest

from edge.sources.audio import WavSource
from edge.sources.recording import DriveWriter
from edge.types import Frame
from tests.conftest import read_frames
from tests.integration.test_replay_cli import STATE_SCHEMA, dms, read_jsonl
from tests.speech import synthesise, write_wav

pytest.importorskip("webrtcvad", reason="webrtcvad-wheels is the optional `audio` extra: pip install '.[audio]'")

RATE = 16000


@pytest.fixture(scope="module")
def cabin_wav(tmp_path_factory: pytest.TempPathFactory):
    """Two quiet seconds, then speech, in a quiet cabin: about as long as the Wolfgang clip (19.7 s)."""
    folder = tmp_path_factory.mktemp("cabin")
    speech = np.concatenate([c.samples for c in WavSource(synthesise(folder))]).astype(np.float64)
    signal = np.random.default_rng(5).normal(0, 30, 2 * RATE + len(speech))
    signal[2 * RATE :] += speech
    return write_wav(folder / "cabin.wav", signal)


def voices(path) -> list[dict]:
    payloads = [m["payload"] for m in read_jsonl(path)]
    for p in payloads:
        jsonschema.validate(p, STATE_SCHEMA)
    return [p["voice"] for p in payloads]


def test_replay_with_audio_reports_the_voice(clip, cabin_wav, tmp_path):
    out = tmp_path / "with_audio.jsonl"
    proc = dms("replay", str(clip("WolfgangLanger_Pexels.mp4")), "--audio", str(cabin_wav), "--jsonl", str(out),
               "--quiet")
    assert proc.returncode == 0, proc.stderr
    voice = voices(out)
    assert voice[0]["reason"] in ("no_audio", "too_short")  # not a full segment yet
    heard = [v for v in voice if v["arousal"] is not None]
    assert len(heard) >= 10 and all(v["t"] >= 2.0 for v in heard)  # only once the speech has started
    assert all(v["dominant"] in v["emotions"] and v["quality"] > 0 for v in heard)
    # Fusion hears the voice from its first classified segment on (staleness: tests/unit/test_fusion.py).
    fusion = [(m["payload"]["t"], m["payload"]["fusion"]) for m in read_jsonl(out)]
    first_heard, last_heard = heard[0]["t"], heard[-1]["t"]
    assert all("voice" in f["sources"] for t, f in fusion if first_heard + 0.1 <= t <= last_heard)
    assert all("voice" not in f["sources"] for t, f in fusion if t < first_heard - 0.1)

    again = tmp_path / "again.jsonl"
    dms("replay", str(clip("WolfgangLanger_Pexels.mp4")), "--audio", str(cabin_wav), "--jsonl", str(again), "--quiet")
    assert again.read_text() == out.read_text()

    without = tmp_path / "without.jsonl"
    dms("replay", str(clip("WolfgangLanger_Pexels.mp4")), "--jsonl", str(without), "--quiet")
    assert {v["reason"] for v in voices(without)} == {"off"}


def test_a_drive_folder_replays_its_own_audio(clip, cabin_wav, tmp_path):
    images = read_frames(clip("WolfgangLanger_Pexels.mp4"))[:80]
    drive = tmp_path / "drive"
    with DriveWriter(drive, device_id="test", fps=10.0, frame_size=(640, 360)) as writer:
        for i, image in enumerate(images):
            writer.write_frame(Frame(image, i * 0.1, i))
    shutil.copyfile(cabin_wav, drive / "audio.wav")
    out = tmp_path / "drive.jsonl"
    proc = dms("replay", str(drive), "--jsonl", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert any(v["arousal"] is not None for v in voices(out))


def test_audio_that_is_not_16k_mono_is_a_usage_error(clip, tmp_path):
    bad = tmp_path / "cd.wav"
    with wave.open(str(bad), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(b"\0" * 44100 * 4)
    proc = dms("replay", str(clip("face_noface.mov")), "--audio", str(bad))
    assert proc.returncode == 2 and "expected 16000 Hz mono 16-bit PCM" in proc.stderr
