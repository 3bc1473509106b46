"""Voice activity and segment quality on real synthesised speech (espeak-ng, resampled by sox) against silence,
white and pink noise and a mains hum, alone and mixed."""

from __future__ import annotations

import numpy as np
import pytest

from edge.sources.audio import WavSource
from tests.speech import synthesise

pytest.importorskip("webrtcvad", reason="webrtcvad-wheels is the optional `audio` extra: pip install '.[audio]'")

from edge.audio.vad import VoiceActivity, assess_segment, snr_db  # noqa: E402 - needs webrtcvad

RATE = 16000


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    wav = synthesise(tmp_path_factory.mktemp("speech"))
    samples = np.concatenate([c.samples for c in WavSource(wav)])
    assert len(samples) > 5 * RATE  # the sentence takes about 7 s
    return samples


def white(n: int, rms: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, rms, n)


def pink(n: int, rms: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum = rng.normal(size=len(freqs)) + 1j * rng.normal(size=len(freqs))
    spectrum[1:] /= np.sqrt(freqs[1:])  # power falls as 1/f
    spectrum[0] = 0
    y = np.fft.irfft(spectrum, n)
    return y / y.std() * rms


def hum(n: int, rms: float) -> np.ndarray:
    t = np.arange(n) / RATE
    y = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3))  # mains hum with two harmonics
    return y / y.std() * rms


def pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def noises(n: int) -> dict[str, np.ndarray]:
    out = {"silence": np.zeros(n, dtype=np.int16)}
    for rms in (300, 3000):  # quiet, and as loud as the speech itself
        out[f"white {rms}"] = pcm(white(n, rms))
        out[f"pink {rms}"] = pcm(pink(n, rms))
        out[f"hum {rms}"] = pcm(hum(n, rms))
    return out


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_speech_fraction_high_for_speech_low_for_the_rest(speech: np.ndarray, frame_ms: int) -> None:
    vad = VoiceActivity(aggressiveness=2, frame_ms=frame_ms)
    assert vad.speech_fraction(speech) > 0.7
    for name, noise in noises(len(speech)).items():
        assert vad.speech_fraction(noise) < 0.15, name


def test_same_segment_same_answer(speech: np.ndarray) -> None:
    vad = VoiceActivity()
    mixed = pcm(speech + pink(len(speech), 1000))
    np.testing.assert_array_equal(vad.flags(mixed), vad.flags(mixed))
    vad.flags(pcm(white(RATE * 5, 3000)))  # whatever the VAD saw before
    np.testing.assert_array_equal(vad.flags(speech), VoiceActivity().flags(speech))


def test_snr_falls_as_noise_rises(speech: np.ndarray) -> None:
    vad = VoiceActivity()
    values = []
    for rms in (0, 300, 1000, 3000):
        x = pcm(speech + white(len(speech), rms)) if rms else speech
        values.append(snr_db(x, vad.flags(x), vad.frame_len))
    assert all(v is not None for v in values)
    assert values[0] > values[1] > values[2] > values[3]
    assert values[0] > values[3] + 15  # clean versus speech as loud as the noise
    assert values[3] < 10


def test_segment_quality(speech: np.ndarray) -> None:
    vad = VoiceActivity()
    segment = speech[RATE : 4 * RATE]  # 3 s in the middle of the sentence
    clean = assess_segment(segment, vad)
    assert clean.ok and clean.reason is None and clean.duration_s == 3.0
    assert clean.speech_fraction > 0.6 and clean.snr_db > 15

    loud = assess_segment(pcm(segment + white(len(segment), 3000)), vad)
    assert not loud.ok and loud.snr_db < clean.snr_db

    for name, noise in noises(3 * RATE).items():
        quality = assess_segment(noise, vad)
        assert not quality.ok and "too little speech" in quality.reason and quality.code == "no_speech", name

    short = assess_segment(segment[: RATE // 2], vad)
    assert not short.ok and "too short" in short.reason and short.code == "too_short"

    # Speech over a moderate hum is still usable; a strict SNR bound rejects it, and says so.
    hummed = pcm(segment + hum(len(segment), 300))
    assert assess_segment(hummed, vad).ok
    strict = assess_segment(hummed, vad, min_snr_db=60.0)
    assert not strict.ok and "too noisy" in strict.reason and strict.code == "noisy"


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="frame_ms"):
        VoiceActivity(frame_ms=25)
    with pytest.raises(ValueError, match="aggressiveness"):
        VoiceActivity(aggressiveness=4)
    with pytest.raises(ValueError, match="16000"):
        VoiceActivity(sample_rate=8000)
