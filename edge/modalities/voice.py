"""The voice modality: cabin audio → VoiceEstimate (edge/audio/analyser.py), every audio.hop_s.

Live, the microphone (edge/sources/audio.py, [audio] enabled) fills an in-memory ring that the voice stage reads;
in replay, a drive's audio.wav (or --audio WAV) is written into a ring of the same size in step with the video.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from edge.config import Config
from edge.modalities.base import InputError, Modality, ModalityKind, ReplayFeed
from edge.monitor.fusion import ModalityEstimate
from edge.rounding import rounded, rounded_scores
from edge.stats import StageTimer
from edge.types import VoiceEstimate

log = logging.getLogger("edge.voice")


def section(voice: VoiceEstimate) -> dict[str, Any]:
    return {
        "t": rounded(voice.t, 3) if voice.reason != "off" else None,
        "speech_fraction": round(voice.speech_fraction, 4),
        "snr_db": rounded(voice.snr_db, 2),
        "quality": round(voice.quality, 4),
        "arousal": rounded(voice.arousal),
        "arousal_level": None if voice.arousal is None else ("high" if voice.arousal >= 0.5 else "low"),
        "emotions": rounded_scores(voice.emotions),
        "dominant": voice.dominant,
        "normalisation": voice.normalisation,
        "reason": voice.reason,
    }


def fusion_vote(voice: VoiceEstimate) -> ModalityEstimate | None:
    """The "voice" modality from a classified segment (None for an unknown one: it does not vote).

    Arousal is the model's P(high arousal). Stress is a proxy, vocal arousal that joy does not explain,
    P(high) × (1 − P(happy)) (an excited, laughing driver is not stressed); it fuses with the physiological stress
    model's estimate, each weighted by its quality.
    """
    if voice.arousal is None:
        return None
    happy = (voice.emotions or {}).get("happy", 0.0)
    return ModalityEstimate("voice", voice.t, voice.arousal, voice.arousal * (1.0 - happy), voice.quality)


def console(voice: dict[str, Any] | None) -> str:
    """"" with audio off; else the dominant vocal emotion and arousal, or why the voice is unknown."""
    if voice is None or voice["reason"] == "off":
        return ""
    if voice["arousal"] is None:
        return f"  voice: {voice['reason'].replace('_', ' ')}"
    return f"  voice: {voice['dominant']}, arousal {voice['arousal_level']} {voice['arousal']:.2f}"


def live(cfg: Config, timer: StageTimer) -> Modality[VoiceEstimate]:
    """The microphone and the voice stage when [audio] is enabled. A missing audio extra or voice model leaves the
    daemon running without voice, and health says why (as it does for a missing sound device)."""
    from edge.sources.audio import MicrophoneSource

    microphone = MicrophoneSource(cfg.audio)  # disabled (starts nothing) unless audio.enabled
    if not cfg.audio.enabled:
        return Modality(VOICE, source=microphone)
    try:
        from edge.audio.analyser import VoiceStage

        stage = VoiceStage.from_config(cfg, microphone.ring, timer)
    except (ImportError, OSError, RuntimeError, ValueError) as err:
        problem = f"voice stage not started: {err}"
        log.error("%s", problem)
        return Modality(VOICE, problem=problem)
    return Modality(VOICE, stage, source=microphone)


def replay(cfg: Config, path: Path, timer: StageTimer, strict: bool = False) -> Modality[VoiceEstimate]:
    """A recorded audio.wav, written into the voice stage's ring chunk by chunk as the video reaches each."""
    from edge.sources.audio_ring import AudioChunk, ring_for
    from edge.sources.audio_wav import AudioError, WavSource

    try:
        wav = WavSource(path, chunk_ms=cfg.audio.chunk_ms)
    except AudioError as err:
        raise InputError(str(err)) from None
    try:
        from edge.audio.analyser import VoiceStage
    except ImportError as err:
        raise InputError(f"audio replay needs the audio extra: {err}") from None
    ring = ring_for(cfg.audio)

    def write(chunks: list[AudioChunk]) -> None:
        for chunk in chunks:
            ring.write(chunk.samples, chunk.t_end)

    stage = VoiceStage.from_config(cfg, ring, timer)
    return Modality(VOICE, stage, feed=ReplayFeed(wav, lambda chunk: chunk.t_end, write))


VOICE: ModalityKind[VoiceEstimate] = ModalityKind(
    name="voice",
    source="audio",
    stream="audio",
    stream_help="cabin audio for the voice stage: 16 kHz mono 16-bit WAV, first sample at t=0 of the video "
    "(default: the drive's audio.wav, if any)",
    sections=("audio",),
    learned="the driver's voice statistics",
    unknown=VoiceEstimate.unknown,
    waiting="no_audio",
    section=section,
    live=live,
    replay=replay,
    fusion=fusion_vote,
    max_age_s=lambda cfg: cfg.fusion.voice_max_age_s,
    console=console,
)
