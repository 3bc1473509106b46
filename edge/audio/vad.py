"""Voice activity (WebRTC VAD) and whether a segment is good enough for the voice model (voiced fraction, SNR).

`webrtcvad` comes from the `webrtcvad-wheels` package (the `audio` extra); the original `webrtcvad` breaks once
setuptools drops `pkg_resources`. It is imported when a VoiceActivity is made, so the rest imports without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edge.audio import pcm16

SAMPLE_RATE = 16000
FRAME_MS_CHOICES = (10, 20, 30)  # the only frame lengths WebRTC VAD takes
# SNR needs some non-speech frames to measure the noise; with fewer, the quietest frames stand in for it.
_MIN_NOISE_FRAMES = 5
_NOISE_PERCENTILE = 10.0
# One LSB² of power: digital silence has no noise to measure, so the floor keeps the SNR finite (~90 dB at most).
_POWER_FLOOR = 1.0
_SNR_MIN_DB = -30.0


class VoiceActivity:
    """Speech frames of a segment: WebRTC VAD over whole frames of `frame_ms` at 16 kHz, AND an energy gate.

    WebRTC VAD alone calls steady noise speech (white or pink noise, a loud hum: 100 % of frames in our tests), so a
    frame counts as speech only when the VAD says so and its power is at least `energy_gate_db` above the
    segment's noise floor (the 10th percentile of its frame powers: the pauses between words). `aggressiveness`
    goes from 0 (keeps the most audio as speech) to 3 (rejects the most non-speech). Each call starts a fresh VAD
    (its noise model adapts as it goes), so the same segment always gives the same answer. A tail shorter than a
    frame is left out.
    """

    def __init__(
        self,
        aggressiveness: int = 2,
        frame_ms: int = 30,
        energy_gate_db: float | None = 6.0,
        sample_rate: int = SAMPLE_RATE,
    ):
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"VAD aggressiveness {aggressiveness}: expected 0, 1, 2 or 3")
        if frame_ms not in FRAME_MS_CHOICES:
            raise ValueError(f"VAD frame_ms {frame_ms}: expected one of {FRAME_MS_CHOICES}")
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"VAD sample_rate {sample_rate}: the audio pipeline is pinned to {SAMPLE_RATE} Hz")
        try:
            import webrtcvad
        except ImportError as err:
            raise ImportError(f"{err}: install the audio extra (pip install 'edge-dms[audio]')") from err
        self._webrtcvad = webrtcvad
        self.aggressiveness = aggressiveness
        self.frame_ms = frame_ms
        self.energy_gate_db = energy_gate_db
        self.sample_rate = sample_rate
        self.frame_len = sample_rate * frame_ms // 1000

    def vad_flags(self, samples: np.ndarray) -> np.ndarray:
        """WebRTC VAD's own decision, one bool per whole frame."""
        data = pcm16(samples)
        n = len(data) // self.frame_len
        raw = data[: n * self.frame_len].astype("<i2").tobytes()
        step = self.frame_len * 2
        vad = self._webrtcvad.Vad(self.aggressiveness)
        return np.array([vad.is_speech(raw[i * step : (i + 1) * step], self.sample_rate) for i in range(n)], dtype=bool)

    def flags(self, samples: np.ndarray) -> np.ndarray:
        """One bool per whole frame: True where the frame is speech (VAD and energy gate)."""
        voiced = self.vad_flags(samples)
        if self.energy_gate_db is None or not len(voiced):
            return voiced
        power = frame_power(samples, self.frame_len)
        return voiced & (power >= noise_floor(power) * 10 ** (self.energy_gate_db / 10))

    def speech_fraction(self, samples: np.ndarray) -> float:
        flags = self.flags(samples)
        return float(flags.mean()) if len(flags) else 0.0


def frame_power(samples: np.ndarray, frame_len: int) -> np.ndarray:
    """Mean square of each whole frame, in int16 units²."""
    data = pcm16(samples).astype(np.float64)
    n = len(data) // frame_len
    return (data[: n * frame_len].reshape(n, frame_len) ** 2).mean(axis=1)


def noise_floor(power: np.ndarray) -> float:
    """The quietest frames' power (10th percentile), at least one LSB²."""
    return max(float(np.percentile(power, _NOISE_PERCENTILE)), _POWER_FLOOR) if len(power) else _POWER_FLOOR


def snr_db(samples: np.ndarray, flags: np.ndarray, frame_len: int) -> float | None:
    """Segment SNR in dB from the VAD's split: 10·log10((P_speech − P_noise) / P_noise).

    P_speech is the mean power of the speech frames (speech plus the noise under it, hence the subtraction);
    P_noise is the median power of the non-speech frames (a median, so speech frames the VAD missed do not raise
    it), or with fewer than five of those the 10th percentile of all frames (the pauses between syllables).
    Both are floored at one LSB²; the result is at least -30 dB. None when there is no speech frame.
    """
    power = frame_power(samples, frame_len)
    speech = np.asarray(flags, dtype=bool)[: len(power)]
    if not speech.any():
        return None
    quiet = power[~speech]
    if len(quiet) >= _MIN_NOISE_FRAMES:
        noise = float(np.median(quiet))
    else:
        noise = noise_floor(power)
    noise = max(noise, _POWER_FLOOR)
    signal = max(float(power[speech].mean()) - noise, noise * 10 ** (_SNR_MIN_DB / 10))
    return 10.0 * math.log10(signal / noise)


@dataclass(frozen=True, slots=True)
class SegmentQuality:
    ok: bool
    reason: str | None  # why the segment is not good enough to classify, in words; None when ok
    code: str | None  # the same as a key: "too_short", "no_speech" or "noisy"; None when ok
    speech_fraction: float
    snr_db: float | None  # None without any speech frame
    duration_s: float
    # The VAD's speech flag of each whole frame, for the caller that goes on to use the speech (voiced_frames)
    flags: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), compare=False, repr=False)


def assess_segment(
    samples: np.ndarray,
    vad: VoiceActivity,
    min_speech_fraction: float = 0.4,
    min_snr_db: float = 10.0,
    min_duration_s: float = 1.0,
) -> SegmentQuality:
    """Whether a segment (e.g. the last 3 s) holds enough clear speech for the voice model, and why not."""
    data = pcm16(samples)
    duration = len(data) / vad.sample_rate
    flags = vad.flags(data)
    fraction = float(flags.mean()) if len(flags) else 0.0
    snr = snr_db(data, flags, vad.frame_len) if len(flags) else None
    reason = code = None
    if duration < min_duration_s:
        reason, code = f"segment too short: {duration:.2f} s < {min_duration_s:.2f} s", "too_short"
    elif fraction < min_speech_fraction:
        reason, code = f"too little speech: {fraction:.0%} of frames voiced < {min_speech_fraction:.0%}", "no_speech"
    elif snr is None:
        reason, code = "no speech frame", "no_speech"
    elif snr < min_snr_db:
        reason, code = f"too noisy: SNR {snr:.1f} dB < {min_snr_db:.1f} dB", "noisy"
    return SegmentQuality(reason is None, reason, code, fraction, snr, duration, flags)
