"""Voice arousal and emotion from the voiced frames (MFCC and pitch) of one speech segment, with the project's int8
model.

The daemon standardises each voiced frame with the driver's own statistics (edge.audio.features.SpeakerNormaliser)
or, until those are ready, with the training speakers' (the manifest's population_mean/std); the model sees
`segment_statistics` of those frames, standardised by `model_input` with the training clips' statistics (the
manifest's). tools/train_voice.py calls the same functions, so training and inference features are identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.audio.features import FRAME_DIM, MFCC, feature_description, mfcc_features, pitch_features
from edge.audio.vad import VoiceActivity
from edge.runtime import Model

SAMPLE_RATE = 16000
AROUSAL_CLASSES: tuple[str, ...] = ("low", "high")
VOICE_EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry")
MODEL_NAME = "voice"  # its manifest entry
PERCENTILES = (10.0, 50.0, 90.0)
N_STATISTICS = 6 * FRAME_DIM  # mean, std, skewness and three percentiles of every frame feature
# Standardised frames give statistics within a few units; the clip keeps an odd segment (a cough, a click) from
# stretching the int8 input scale.
STAT_CLIP = 5.0
MIN_FRAMES = 10  # 0.1 s of voiced frames: fewer say nothing about a voice
# The int8 model's input: each statistic standardised with the training clips' mean and scale (the manifest's
# statistics_mean/statistics_scale), clipped to +-INPUT_CLIP and divided by it, so every input spans [-1, 1] alike
# and int8 rounds none of them more coarsely than the rest (their raw spreads differ by a factor of 20).
INPUT_CLIP = 4.0


def voiced_frames(samples: np.ndarray, vad: VoiceActivity, flags: np.ndarray | None = None) -> np.ndarray:
    """(n, FRAME_DIM) float32 frames whose centre lies in a frame the VAD calls speech: their MFCC (mfcc_features)
    and pitch (pitch_features, computed for those frames only: unpitched ones are filled from the kept frames).
    `flags`: vad.flags(samples) when the caller has them already (assess_segment's), so the VAD runs once."""
    frames = mfcc_features(samples)
    if flags is None:
        flags = vad.flags(samples)
    win = int(round(MFCC.winlen_s * MFCC.sample_rate))
    step = int(round(MFCC.winstep_s * MFCC.sample_rate))
    index = (np.arange(len(frames)) * step + win // 2) // vad.frame_len  # the VAD frame holding each centre
    keep = np.zeros(len(frames), dtype=bool)
    inside = index < len(flags)
    keep[inside] = flags[index[inside]]
    kept = np.flatnonzero(keep)
    return np.hstack((frames[kept], pitch_features(samples, kept)))


def segment_statistics(normalised_frames: np.ndarray) -> np.ndarray:
    """(N_STATISTICS,) float32: per coefficient the mean, std, skewness and 10/50/90th percentiles, clipped."""
    x = np.asarray(normalised_frames, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != FRAME_DIM:
        raise ValueError(f"frames of shape {x.shape}: expected (n, {FRAME_DIM})")
    if len(x) < MIN_FRAMES:
        raise ValueError(f"{len(x)} voiced frames: at least {MIN_FRAMES} are needed")
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    skew = ((x - mean) ** 3).mean(axis=0) / np.maximum(std, 1e-6) ** 3
    stats = np.concatenate([mean, std, skew, *np.percentile(x, PERCENTILES, axis=0)])
    return np.clip(stats, -STAT_CLIP, STAT_CLIP).astype(np.float32)


def model_input(statistics: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1]: segment_statistics standardised with the training clips' mean and scale, clipped."""
    z = (np.asarray(statistics, np.float64) - mean) / scale
    return (np.clip(z, -INPUT_CLIP, INPUT_CLIP) / INPUT_CLIP).astype(np.float32)


@dataclass(frozen=True, slots=True)
class VoiceScores:
    arousal: dict[str, float]  # {"low": p, "high": 1 - p}
    emotions: dict[str, float]  # VOICE_EMOTIONS -> probability, summing to 1


# The int8 outputs' step is 1/256: a class rounded to 0 gets half a step before population_sharpness raises the
# probabilities to a power, so that flattening can lift it.
_PROBABILITY_FLOOR = 0.5 / 256


def _softmax_if_needed(p: np.ndarray, sharpness: float = 1.0) -> np.ndarray:
    """The output as probabilities summing to 1; with sharpness k != 1, p^k renormalised: softmax(t d)^k / sum is
    softmax(k t d), the graph's temperature t scaled by k."""
    p = np.clip(p.astype(np.float64), 0.0, None)  # int8 rounding can leave a tiny negative
    if sharpness != 1.0:
        p = np.maximum(p, _PROBABILITY_FLOOR) ** sharpness
    total = p.sum()
    return p / total if total > 0 else np.full(len(p), 1.0 / len(p))


class VoiceModel:
    """The int8 voice model: segment statistics in, arousal (low, high) and VOICE_EMOTIONS probabilities out."""

    def __init__(self, model: Model, population_mean: np.ndarray | None = None,
                 population_std: np.ndarray | None = None, statistics_mean: np.ndarray | None = None,
                 statistics_scale: np.ndarray | None = None,
                 population_sharpness: tuple[float, float] = (1.0, 1.0)):
        """statistics_mean/scale: the model_input standardisation (the manifest's); without them the model is fed
        segment_statistics as they are. population_sharpness: (arousal, emotions) powers for the probabilities of
        population-standardised input (the manifest's; below 1 they are less confident): the graph's temperatures
        are fitted on speaker-standardised input, and a voice standardised with the training speakers'
        statistics is classified less accurately, so the same confidence would overstate it."""
        if model.inputs[0].shape[-1] != N_STATISTICS:
            raise ValueError(f"{model.path.name}: input {model.inputs[0].shape}, expected (1, {N_STATISTICS})")
        self.model = model
        self._outputs = self._output_order()
        dim = FRAME_DIM
        self.population_mean = np.zeros(dim) if population_mean is None else np.asarray(population_mean, np.float64)
        self.population_std = np.ones(dim) if population_std is None else np.asarray(population_std, np.float64)
        self.statistics_mean = None if statistics_mean is None else np.asarray(statistics_mean, np.float64)
        self.statistics_scale = None if statistics_scale is None else np.asarray(statistics_scale, np.float64)
        for name in ("statistics_mean", "statistics_scale"):
            value = getattr(self, name)
            if value is not None and value.shape != (N_STATISTICS,):
                raise ValueError(f"{name} of shape {value.shape}: expected ({N_STATISTICS},)")
        if (self.statistics_mean is None) != (self.statistics_scale is None):
            raise ValueError("statistics_mean and statistics_scale come together")
        self.population_sharpness = tuple(float(k) for k in population_sharpness)
        if len(self.population_sharpness) != 2 or not all(0 < k <= 10 for k in self.population_sharpness):
            raise ValueError(f"population_sharpness {population_sharpness}: expected two powers in (0, 10]")

    def _output_order(self) -> tuple[int, int]:
        """(arousal index, emotions index) among the model's outputs, told apart by their width."""
        widths = [spec.shape[-1] for spec in self.model.outputs]
        return widths.index(len(AROUSAL_CLASSES)), widths.index(len(VOICE_EMOTIONS))

    @classmethod
    def load(cls, models_dir: Path, num_threads: int = 1, backend: str = "auto") -> VoiceModel:
        """The model of the manifest's [models.voice] entry, sha256-checked, with its population statistics."""
        from edge.config import tomllib
        from edge.models import manifest_path, model_path

        entry = tomllib.loads(manifest_path(models_dir).read_text(encoding="utf-8"))["models"][MODEL_NAME]
        trained, wanted = entry.get("features"), feature_description()
        if isinstance(trained, dict) and "pitch" not in trained:
            raise ValueError(f"{MODEL_NAME} model: trained on MFCC frames without the pitch columns (log F0, pitched) "
                             "that voiced_frames gives now; retrain it (tools/train_voice.py)")
        if trained != wanted:
            raise ValueError(f"{MODEL_NAME} model: trained on features {trained}, not {wanted}")
        model = Model(model_path(MODEL_NAME, models_dir), num_threads=num_threads, backend=backend)
        return cls.from_entry(model, entry)

    @classmethod
    def from_entry(cls, model: Model, entry: dict) -> VoiceModel:
        """The model with the population and input statistics of its manifest entry."""
        standardise = "statistics_mean" in entry
        return cls(model, np.array(entry["population_mean"]), np.array(entry["population_std"]),
                   np.array(entry["statistics_mean"]) if standardise else None,
                   np.array(entry["statistics_scale"]) if standardise else None,
                   tuple(entry.get("population_sharpness", (1.0, 1.0))))

    def normalise_population(self, frames: np.ndarray) -> np.ndarray:
        """Frames standardised with the training speakers' statistics (before a driver's own are ready)."""
        return ((np.asarray(frames, np.float64) - self.population_mean) / self.population_std).astype(np.float32)

    def predict(self, normalised_frames: np.ndarray, population: bool = False) -> VoiceScores:
        """normalised_frames: voiced frames (voiced_frames) of one segment (~1-3 s), already standardised: with
        the speaker's own statistics, or with `population` the training speakers' (normalise_population), whose
        probabilities are raised to population_sharpness."""
        statistics = segment_statistics(normalised_frames)
        if self.statistics_mean is not None:
            statistics = model_input(statistics, self.statistics_mean, self.statistics_scale)
        outputs = self.model.run(statistics[None])
        sharpness = self.population_sharpness if population else (1.0, 1.0)
        arousal = _softmax_if_needed(outputs[self._outputs[0]].reshape(-1), sharpness[0])
        emotions = _softmax_if_needed(outputs[self._outputs[1]].reshape(-1), sharpness[1])
        return VoiceScores(
            {c: float(p) for c, p in zip(AROUSAL_CLASSES, arousal)},
            {c: float(p) for c, p in zip(VOICE_EMOTIONS, emotions)},
        )
