"""Cabin audio → VoiceEstimate: every audio.hop_s the newest audio.segment_s seconds are checked for speech (VAD,
SNR) and, when there is enough clear speech, classified by the voice model.

Live and replay run the same code: audio goes into an AudioRing (the microphone's callback live; replay writes
the drive's audio.wav into one in step with the video) and `VoiceStage.poll(t)` analyses the ring's newest
segment once per hop of audio time. Nothing is kept beyond the ring: the stage holds no samples between calls.

Features are standardised per driver: SpeakerNormaliser learns the driver's voice from the voiced frames of
non-overlapping segments (overlapping ones would count frames twice); until it has audio.speaker_min_s of speech,
the training speakers' statistics from the model's manifest stand in, and the estimate says which was used; its
probabilities are then flattened by the manifest's population_sharpness, since they are less often right.
"""

from __future__ import annotations

import math
import time

from edge.audio.features import FRAME_DIM, MFCC, SpeakerNormaliser
from edge.audio.vad import VoiceActivity, assess_segment
from edge.audio.voice import MIN_FRAMES, VoiceModel, voiced_frames
from edge.config import AudioConfig, Config
from edge.sources.audio_ring import AudioChunk, AudioRing
from edge.stats import StageTimer
from edge.types import VoiceEstimate

FRAMES_PER_S = round(1.0 / MFCC.winstep_s)
# Quality: the voiced share of the segment (full at 80 %) times an SNR term that is 0.25 at audio.min_snr_db and
# full 15 dB above it; both are what makes a voice estimate trustworthy on acted-speech-trained models.
_FULL_SPEECH_FRACTION = 0.8
_SNR_SPAN_DB = 20.0
_SNR_OFFSET_DB = 5.0


def voice_quality(speech_fraction: float, snr_db: float, min_snr_db: float) -> float:
    speech = min(1.0, max(0.0, speech_fraction / _FULL_SPEECH_FRACTION))
    snr = min(1.0, max(0.0, (snr_db - min_snr_db + _SNR_OFFSET_DB) / _SNR_SPAN_DB))
    return speech * snr


class VoiceAnalyser:
    """One segment of audio → one VoiceEstimate. Keeps the driver's voice statistics between calls."""

    def __init__(self, cfg: AudioConfig, model: VoiceModel):
        self.cfg = cfg
        self.model = model
        self.vad = VoiceActivity(cfg.vad_aggressiveness, frame_ms=30, energy_gate_db=cfg.energy_gate_db)
        self.speaker = SpeakerNormaliser(FRAME_DIM, min_frames=math.ceil(cfg.speaker_min_s * FRAMES_PER_S))
        self._learned_until = -math.inf  # end of the last segment the speaker statistics learned from

    def reset_speaker(self) -> None:
        """A new driver: forget the voice statistics learned so far."""
        self.speaker.reset()
        self._learned_until = -math.inf

    def analyse(self, segment: AudioChunk) -> VoiceEstimate:
        cfg = self.cfg
        quality = assess_segment(
            segment.samples, self.vad, cfg.min_speech_fraction, cfg.min_snr_db, min_duration_s=cfg.segment_s * 0.9
        )
        if not quality.ok or quality.snr_db is None:
            return VoiceEstimate.unknown(segment.t_end, quality.code or "no_speech", quality.speech_fraction,
                                         quality.snr_db)
        frames = voiced_frames(segment.samples, self.vad, quality.flags)
        if len(frames) < MIN_FRAMES:  # too few voiced frames for the model's statistics
            return VoiceEstimate.unknown(segment.t_end, "no_speech", quality.speech_fraction, quality.snr_db)
        if segment.t_start > self._learned_until:
            self.speaker.update(frames)
            self._learned_until = segment.t_end
        if self.speaker.ready:
            normalised, normalisation = self.speaker.apply(frames), "speaker"
        else:
            normalised, normalisation = self.model.normalise_population(frames), "population"
        scores = self.model.predict(normalised, population=normalisation == "population")
        return VoiceEstimate(
            t=segment.t_end,
            speech_fraction=quality.speech_fraction,
            snr_db=quality.snr_db,
            quality=voice_quality(quality.speech_fraction, quality.snr_db, cfg.min_snr_db),
            arousal=scores.arousal["high"],
            emotions=dict(scores.emotions),
            normalisation=normalisation,
        )


class VoiceStage:
    """Runs the analyser on the ring's newest segment once per hop of audio time.

    `poll(now)` returns a new estimate when a hop of new audio has arrived since the last one, else None (so the
    caller can call it as often as it likes); with no audio for `stale_s` it says so once per hop ("no_audio").
    """

    def __init__(self, cfg: AudioConfig, analyser: VoiceAnalyser, ring: AudioRing, timer: StageTimer | None = None):
        self.cfg = cfg
        self.analyser = analyser
        self.ring = ring
        self.timer = timer or StageTimer()
        self.stale_s = cfg.stall_timeout_s
        self._segment_samples = round(cfg.segment_s * ring.sample_rate)
        self._next_t: float | None = None  # audio time of the next analysis
        self._first_poll_t: float | None = None

    def poll(self, now: float) -> VoiceEstimate | None:
        newest_t = self.ring.newest_t  # checked first: most polls (one per video frame) have nothing to do
        if self._first_poll_t is None:
            self._first_poll_t = now
        if newest_t is None and now - self._first_poll_t <= self.stale_s:
            return None  # a source that is starting gets stall_timeout_s before it is called missing
        if newest_t is None or now - newest_t > self.stale_s:
            if self._next_t is not None and now < self._next_t:
                return None
            self._next_t = now + self.cfg.hop_s
            return VoiceEstimate.unknown(now, "no_audio")
        if self._next_t is not None and newest_t < self._next_t:
            return None
        segment = self.ring.newest(self._segment_samples)
        if segment is None:
            return None
        if self._next_t is None:
            self._next_t = segment.t_start + self.cfg.hop_s  # the first estimate one hop after the first audio
            if segment.t_end < self._next_t:
                return None
        # Analyse at most once per call: a worker that fell behind skips to the newest audio instead of queueing.
        self._next_t = max(self._next_t + self.cfg.hop_s, segment.t_end + self.cfg.hop_s * 0.5)
        started = time.perf_counter()
        estimate = self.analyser.analyse(segment)
        self.timer.record("voice", time.perf_counter() - started)
        return estimate

    @staticmethod
    def from_config(cfg: Config, ring: AudioRing, timer: StageTimer | None = None) -> VoiceStage:
        """Loads the voice model; raises ImportError without the audio extra (webrtcvad) and ModelMissing /
        FileNotFoundError without the model."""
        rt = cfg.runtime
        model = VoiceModel.load(rt.models_dir, rt.num_threads, rt.backend)
        return VoiceStage(cfg.audio, VoiceAnalyser(cfg.audio, model), ring, timer)
