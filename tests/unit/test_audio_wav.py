"""WAV replay: chunks with drive-clock times, the same on every pass, and clear errors for wrong files."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from edge.sources.audio import AudioError, WavSource


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000, channels: int = 1, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


@pytest.fixture
def audio(tmp_path: Path) -> tuple[Path, np.ndarray]:
    samples = np.random.default_rng(3).integers(-32768, 32767, 16000 + 123, dtype=np.int16)
    return write_wav(tmp_path / "audio.wav", samples), samples


def test_replay_gives_every_sample_with_its_time(audio: tuple[Path, np.ndarray]) -> None:
    path, samples = audio
    source = WavSource(path, chunk_ms=20, t0=2.5)
    assert source.frames == len(samples) and source.duration_s == pytest.approx(len(samples) / 16000)
    chunks = list(source.chunks())
    assert [len(c.samples) for c in chunks] == [320] * 50 + [123]  # the last one holds what is left
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), samples)
    for c in chunks:
        assert c.samples.dtype == np.int16
        assert c.t_start == pytest.approx(2.5 + c.position / 16000)
        assert c.t_end == pytest.approx(c.t_start + (len(c.samples) - 1) / 16000)
    assert [c.position for c in chunks] == [i * 320 for i in range(51)]


def test_replay_twice_gives_the_same_chunks(audio: tuple[Path, np.ndarray]) -> None:
    source = WavSource(audio[0], chunk_ms=30)
    first, second = list(source), list(source)
    assert len(first) == len(second) > 1
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.samples, b.samples)
        assert (a.t_start, a.t_end, a.position) == (b.t_start, b.t_end, b.position)


@pytest.mark.parametrize(
    "rate, channels, width, message",
    [(8000, 1, 2, "8000 Hz"), (16000, 2, 2, "2 channel"), (16000, 1, 1, "8-bit"), (44100, 2, 2, "44100 Hz")],
)
def test_wrong_format_names_the_file(tmp_path: Path, rate: int, channels: int, width: int, message: str) -> None:
    dtype = np.int16 if width == 2 else np.uint8
    path = write_wav(tmp_path / "cabin.wav", np.zeros(1600 * channels, dtype=dtype), rate, channels, width)
    with pytest.raises(AudioError, match=message) as err:
        WavSource(path)
    assert "cabin.wav" in str(err.value) and "16000 Hz mono 16-bit" in str(err.value)


def test_not_a_wav_names_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "notes.wav"
    junk.write_text("this is not audio\n" * 10)
    with pytest.raises(AudioError, match=r"notes\.wav.*not a PCM WAV"):
        WavSource(junk)
    with pytest.raises(AudioError, match=r"missing\.wav.*no such file"):
        WavSource(tmp_path / "missing.wav")
