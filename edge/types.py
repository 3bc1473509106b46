"""The small value types passed between pipeline stages.

Every sample carries `t`: seconds on the one pipeline clock (time.monotonic() live, the recording's own
timestamps in replay). Wall-clock time is added only when a payload is published.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The eight classes of FER+ (Barsoum et al., 2016) in its order, as the cloud emotion APIs report them; every
# emotion model's scores are mapped onto these names (edge.vision.emotion).
EMOTION_LABELS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
)


@dataclass(frozen=True, slots=True)
class Frame:
    """One camera frame. `image` is BGR (H×W×3) or grayscale (H×W) uint8, as the source delivers it."""

    image: np.ndarray
    t: float
    index: int


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in frame pixels."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2


@dataclass(frozen=True, slots=True)
class Detection:
    """A face from the detector: box and six keypoints (right eye, left eye, nose tip, mouth, right ear,
    left ear; 'right' is the subject's right), all in frame pixels."""

    box: Box
    keypoints: np.ndarray  # (6, 2)
    score: float


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Degrees. yaw > 0: the driver turns to their left; pitch > 0: looks up; roll > 0: head tilts to their left
    shoulder. Zero is facing the camera (not yet the driver's own neutral pose: calibration comes later)."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True, slots=True)
class EmotionEstimate:
    """Scores for every class in EMOTION_LABELS (they sum to 1) and the time of the frame they came from."""

    scores: dict[str, float]
    t: float

    @property
    def dominant(self) -> str:
        return max(self.scores, key=self.scores.__getitem__)


@dataclass(frozen=True, slots=True)
class VoiceEstimate:
    """What the voice stage made of one segment of cabin audio (the newest audio.segment_s seconds).

    `arousal` is P(high arousal) and `emotions` the voice model's scores (edge.audio.voice.VOICE_EMOTIONS), both
    None when the segment was not classified; `reason` then says why: "no_speech" (too little voiced audio),
    "noisy" (SNR below audio.min_snr_db), "too_short" (not enough audio yet), "no_audio" (nothing recent from the
    source) or "off" (audio disabled). `quality` in [0, 1] grows with the voiced fraction and the SNR; 0 when
    unknown. `normalisation` says whose voice statistics standardised the features: "speaker" (the driver's own,
    learned from this drive) or "population" (the training speakers', until enough of the driver's speech).
    """

    t: float  # pipeline time of the segment's newest sample
    speech_fraction: float
    snr_db: float | None
    quality: float
    arousal: float | None = None
    emotions: dict[str, float] | None = None
    normalisation: str | None = None
    reason: str | None = None

    @property
    def dominant(self) -> str:
        return max(self.emotions, key=self.emotions.__getitem__) if self.emotions else "unknown"

    @staticmethod
    def unknown(t: float, reason: str, speech_fraction: float = 0.0, snr_db: float | None = None) -> VoiceEstimate:
        return VoiceEstimate(t, speech_fraction, snr_db, 0.0, reason=reason)


@dataclass(frozen=True, slots=True)
class PhysioEstimate:
    """What the physiology stage made of the last physio.window_s seconds of ECG and skin conductance.

    Heart rate and HRV come from R-peaks (edge.physio.ecg), None when the ECG was unusable; `ecg_quality` in [0, 1]
    (0 with the leads off). SCL is in the sensor's unit (µS from a Grove board, `physio.gsr_unit`), the SCR rate in
    responses per minute; `eda_quality` in [0, 1] and `eda_flags` say why it is low ("flat", "clipped",
    "no_contact", "gaps"). `stress` is the stress model's probabilities over edge.names.STRESS_LEVELS, None until the
    driver's baseline is complete or when neither signal is usable; `reason` then says why: "baseline" (still
    learning the driver's resting values, `baseline_remaining_s` to go), "no_model" (no stress model loaded),
    "no_signal" (samples, but neither signal usable), "no_sensor" (no sample in the window) or "off" (no source).
    """

    t: float  # pipeline time of the window's end
    hr_bpm: float | None
    rmssd_ms: float | None
    sdnn_ms: float | None
    pnn50: float | None
    ecg_quality: float
    scl: float | None
    scr_rate_per_min: float | None
    eda_quality: float
    eda_flags: tuple[str, ...] = ()
    stress: dict[str, float] | None = None  # "low", "medium", "high" -> probability
    baseline_remaining_s: float | None = None  # seconds of usable signal still needed for the driver's baseline
    reason: str | None = None

    @property
    def quality(self) -> float:
        """[0, 1]: the better of the two signals (the model works from either)."""
        return max(self.ecg_quality, self.eda_quality)

    @property
    def stress_level(self) -> str:
        return max(self.stress, key=self.stress.__getitem__) if self.stress else "unknown"

    @staticmethod
    def unknown(t: float, reason: str) -> PhysioEstimate:
        return PhysioEstimate(t, None, None, None, None, 0.0, None, None, 0.0, reason=reason)


@dataclass(frozen=True, slots=True)
class EyeCropState:
    """One eye as the eye-state model saw it: P(closed), and the gray-level std and share of saturated pixels of
    the eye itself (the crop's centre), and the brightness of the skin around it (lid, below the eye) over the
    face's bare skin (cheeks, nose, forehead), from which the monitor decides whether the eye could be seen at all
    (dark glasses, a hand, glare). `surround` is NaN where it could not be measured."""

    closed_prob: float
    contrast: float
    saturated: float
    surround: float = 1.0  # bare skin around the eye: ~1; behind a dark lens: ~0.3-0.5


@dataclass(frozen=True, slots=True)
class FaceObservation:
    """What the vision stage saw of the driver in one frame.

    Landmarks are the 468 FaceMesh points in frame pixels (x, y, z; z in the same scale as x, relative depth).
    `ear_left` / `ear_right` are the driver's own left and right eye. `quality` in [0, 1] folds the landmark
    face score, the face size and the pose into one number that downstream stages use to weight or discard this
    observation. `detector_score` is set only on frames where the detector found the face (None while tracked).
    """

    t: float
    frame_index: int
    present: bool
    quality: float = 0.0
    tracked: bool = False
    detector_score: float | None = None
    landmark_score: float | None = None
    box: Box | None = None
    face_size_px: float = 0.0
    pose: HeadPose | None = None
    ear_left: float | None = None
    ear_right: float | None = None
    mar: float | None = None
    emotion: EmotionEstimate | None = None
    eye_states: tuple[EyeCropState, EyeCropState] | None = None  # (left, right), the driver's own
    landmarks: np.ndarray | None = field(default=None, repr=False)

    @staticmethod
    def absent(t: float, frame_index: int) -> FaceObservation:
        return FaceObservation(t=t, frame_index=frame_index, present=False)
