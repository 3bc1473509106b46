"""The voice stage on real synthesised speech between stretches of cabin-like noise, fed exactly as replay feeds
it (20 ms chunks into the ring, polled at every video frame), with the real voice model."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from edge.config import Config
from edge.sources.audio import WavSource
from edge.sources.audio_ring import ring_for
from tests.speech import synthesise, write_wav

pytest.importorskip("webrtcvad", reason="webrtcvad-wheels is the optional `audio` extra: pip install '.[audio]'")

from edge.audio.analyser import VoiceStage  # noqa: E402 - needs webrtcvad
from edge.audio.voice import VOICE_EMOTIONS  # noqa: E402

RATE = 16000
FPS = 30.0
QUIET_S = 4.0
SECOND_SENTENCE = "Please turn left at the next junction, then keep straight on for about two miles."


@pytest.fixture(scope="module")
def drive_audio(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, float]:
    """quiet road noise, two sentences, quiet again: (the WAV, speech start s, speech end s)."""
    folder = tmp_path_factory.mktemp("voice")
    wavs = (synthesise(folder), synthesise(folder, SECOND_SENTENCE, "two"))
    speech = np.concatenate([c.samples for wav in wavs for c in WavSource(wav)]).astype(np.float64)
    rng = np.random.default_rng(3)
    quiet = int(QUIET_S * RATE)
    noise = rng.normal(0, 30, quiet * 2 + len(speech))  # a quiet cabin, about -60 dBFS
    signal = noise.copy()
    signal[quiet : quiet + len(speech)] += speech
    path = folder / "audio.wav"
    write_wav(path, signal)
    return path, QUIET_S, QUIET_S + len(speech) / RATE


def run_stage(path: Path, cfg: Config):
    """Replay's feeding: before each 30 fps frame, every chunk that ended by then; then one poll."""
    stage = VoiceStage.from_config(cfg, ring_for(cfg.audio))
    chunks = iter(WavSource(path, chunk_ms=cfg.audio.chunk_ms))
    pending = next(chunks, None)
    estimates = []
    duration = WavSource(path).duration_s
    for i in range(int(duration * FPS)):
        t = i / FPS
        while pending is not None and pending.t_end <= t:
            stage.ring.write(pending.samples, pending.t_end)
            pending = next(chunks, None)
        estimate = stage.poll(t)
        if estimate is not None:
            estimates.append(estimate)
    return stage, estimates


def test_speech_is_classified_and_quiet_is_unknown(drive_audio):
    path, start, end = drive_audio
    cfg = Config()
    _, estimates = run_stage(path, cfg)
    hop = cfg.audio.hop_s
    times = np.array([e.t for e in estimates])
    assert np.allclose(np.diff(times), hop, atol=0.03)  # one estimate per hop of audio

    quiet = [e for e in estimates if e.t < start or e.t - cfg.audio.segment_s > end]
    assert quiet and all(e.arousal is None and e.reason in ("too_short", "no_speech") for e in quiet)
    assert all(e.quality == 0.0 for e in quiet)

    inside = [e for e in estimates if e.t - cfg.audio.segment_s >= start and e.t <= end]
    assert len(inside) >= 8
    classified = [e for e in inside if e.arousal is not None]
    assert len(classified) >= 0.8 * len(inside)
    for e in classified:
        assert 0.0 <= e.arousal <= 1.0 and 0.0 < e.quality <= 1.0 and e.reason is None
        assert tuple(e.emotions) == VOICE_EMOTIONS and sum(e.emotions.values()) == pytest.approx(1.0, abs=1e-3)
        assert e.speech_fraction >= cfg.audio.min_speech_fraction and e.snr_db >= cfg.audio.min_snr_db
    # The driver's own statistics take over from the population's once 3 s of their speech were heard.
    modes = [e.normalisation for e in classified]
    assert modes[0] == "population" and modes[-1] == "speaker"
    assert modes == sorted(modes, key=("population", "speaker").index)


def test_population_estimates_get_the_population_sharpness(drive_audio, monkeypatch):
    """Until the driver's own statistics are ready the model is asked for population-calibrated probabilities
    (VoiceModel.predict(..., population=True)), and only then."""
    from edge.audio.voice import VoiceModel

    asked = []
    predict = VoiceModel.predict
    monkeypatch.setattr(VoiceModel, "predict", lambda self, frames, population=False:
                        asked.append(population) or predict(self, frames, population))
    path, _, _ = drive_audio
    _, estimates = run_stage(path, Config())
    modes = [e.normalisation for e in estimates if e.arousal is not None]
    assert "population" in modes and "speaker" in modes
    assert asked == [m == "population" for m in modes]


def test_replaying_the_same_audio_gives_the_same_estimates(drive_audio):
    path, _, _ = drive_audio
    _, first = run_stage(path, Config())
    _, second = run_stage(path, Config())
    assert first == second and any(e.arousal is not None for e in first)


def test_no_audio_is_kept_beyond_the_ring(drive_audio):
    """After a whole drive the stage holds the ring (bounded by audio.ring_s) and small statistics, no samples."""
    path, _, _ = drive_audio
    cfg = Config()
    stage, _ = run_stage(path, cfg)
    ring_capacity = int(cfg.audio.ring_s * RATE)
    assert stage.ring.capacity == ring_capacity < WavSource(path).frames

    seen: set[int] = set()
    arrays: list[tuple[str, np.ndarray]] = []

    def walk(obj: object, where: str, depth: int = 0) -> None:
        # The ring is the one place audio may be; the model's interpreter holds weights.
        if id(obj) in seen or depth > 6 or obj is stage.ring or obj is stage.analyser.model:
            return
        if isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            return  # code, not data
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            arrays.append((where, obj))
            return
        if isinstance(obj, dict):
            for key, value in obj.items():
                walk(value, f"{where}[{key!r}]", depth + 1)
        elif isinstance(obj, (list, tuple, set)):
            for i, value in enumerate(obj):
                walk(value, f"{where}[{i}]", depth + 1)
        elif hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
            names = list(getattr(obj, "__dict__", {})) + list(getattr(type(obj), "__slots__", ()))
            for name in names:
                if hasattr(obj, name) and not name.startswith("__"):
                    walk(getattr(obj, name), f"{where}.{name}", depth + 1)

    walk(stage, "stage")
    big = [(where, a.shape) for where, a in arrays if a.size > 4 * 41 * 41]  # statistics are 41-dim vectors
    assert big == [], f"audio-sized arrays held outside the ring: {big}"


def test_a_source_that_never_starts_or_stops_is_reported_missing(drive_audio):
    path, _, _ = drive_audio
    cfg = Config()
    stall = cfg.audio.stall_timeout_s
    stage = VoiceStage.from_config(cfg, ring_for(cfg.audio))
    assert stage.poll(0.0) is None and stage.poll(stall) is None  # still starting
    missing = stage.poll(stall + 0.1)
    assert missing is not None and missing.reason == "no_audio" and missing.arousal is None
    assert stage.poll(stall + 0.2) is None  # said once per hop, not at every frame

    for chunk in WavSource(path, chunk_ms=cfg.audio.chunk_ms):
        stage.ring.write(chunk.samples, chunk.t_end)
    end = WavSource(path).duration_s
    assert stage.poll(end).reason != "no_audio"
    stopped = stage.poll(end + stall + cfg.audio.hop_s)
    assert stopped is not None and stopped.reason == "no_audio"
