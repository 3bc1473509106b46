"""Fusion of arousal and stress across sources (the face, and each registered modality that votes). Pure policy.

Each source hands in its latest estimate with the time it was made and a quality in [0, 1]. An estimate older
than its source's max age (FusionConfig) is stale and a source with no estimate is missing: both are left out,
never imputed, and named in the state so a subscriber knows what the number rests on. The fused value is the
quality-weighted mean of the fresh estimates, smoothed over time by an exponential filter whose time constant is
arousal_tau_s (seconds: arousal changes fast) or stress_tau_s (tens of seconds). With no fresh source a value is
None and its filter starts again from the first value when a source returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from edge.config import FusionConfig
from edge.types import EmotionEstimate

# Arousal of each facial emotion on the circumplex model of affect (Russell 1980): anger, fear and surprise are
# high-arousal, happiness moderately high, disgust middling, contempt (a cool, unilateral expression) a little
# lower, sadness and a neutral face low. This is a coarse proxy: facial expression says little about arousal (a
# calm face can hide stress), so it weighs only by its face quality beside the voice, and it gives no stress
# estimate at all.
FACE_AROUSAL_WEIGHTS: dict[str, float] = {
    "anger": 0.85,
    "fear": 0.85,
    "surprise": 0.8,
    "happiness": 0.65,
    "disgust": 0.5,
    "contempt": 0.4,
    "sadness": 0.25,
    "neutral": 0.2,
}


@dataclass(frozen=True, slots=True)
class ModalityEstimate:
    name: str  # "face" or a registered modality's name (edge.modalities)
    t: float  # when the estimate was made, on the pipeline clock
    arousal: float | None  # [0, 1]; None when this modality does not estimate it
    stress: float | None  # probability of high stress, [0, 1]
    quality: float  # [0, 1]: face score, speech fraction/SNR, ECG signal quality, EDA checks


@dataclass(frozen=True, slots=True)
class FusionState:
    t: float
    arousal: float | None  # smoothed; None without a fresh source
    stress: float | None
    sources: tuple[str, ...]  # fresh modalities that contributed to arousal or stress
    stale: tuple[str, ...]  # had an estimate, too old: left out
    missing: tuple[str, ...]  # no estimate at all: left out
    arousal_sources: tuple[str, ...] = ()
    stress_sources: tuple[str, ...] = ()


def face_arousal(emotion: EmotionEstimate) -> float | None:
    """Arousal in [0, 1] from the facial emotion scores (weights: FACE_AROUSAL_WEIGHTS; a coarse proxy); None when
    no score is usable (NaN, or labels this table does not know): the face then does not vote, nothing fails."""
    known = {k: max(0.0, v) for k, v in emotion.scores.items() if k in FACE_AROUSAL_WEIGHTS and math.isfinite(v)}
    total = sum(known.values())
    if total <= 0.0:
        return None
    return sum(FACE_AROUSAL_WEIGHTS[k] * v for k, v in known.items()) / total


def face_estimate(emotion: EmotionEstimate, quality: float) -> ModalityEstimate:
    """The "face" modality from one emotion result and the quality of the face it was read from."""
    return ModalityEstimate("face", emotion.t, face_arousal(emotion), None, quality)


def stress_level(score: float | None, threshold: float) -> str | None:
    """"high" at or above the alert threshold (alerts.stress_threshold), "medium" from half of it, else "low";
    None without a score."""
    if score is None:
        return None
    return "high" if score >= threshold else "medium" if score >= 0.5 * threshold else "low"


class _Smoother:
    """Exponential filter on an irregular clock: alpha = 1 - exp(-dt / tau)."""

    def __init__(self, tau_s: float):
        self.tau_s = tau_s
        self.value: float | None = None
        self._t = 0.0

    def step(self, t: float, x: float | None) -> float | None:
        if x is None:
            self.value = None  # restart from the next value: nothing is carried over a gap
        elif self.value is None:
            self.value = x
        else:
            alpha = 1.0 - math.exp(-max(0.0, t - self._t) / self.tau_s)
            self.value += alpha * (x - self.value)
        self._t = t
        return self.value


class Fusion:
    def __init__(self, cfg: FusionConfig, max_age_s: Mapping[str, float]):
        """`max_age_s`: every source that may vote ("face" and the modalities that do), in the order fusion names
        them, with the age beyond which its estimate is stale."""
        self.cfg = cfg
        self.max_age_s = dict(max_age_s)
        self._arousal = _Smoother(cfg.arousal_tau_s)
        self._stress = _Smoother(cfg.stress_tau_s)

    def step(self, t: float, estimates: Mapping[str, ModalityEstimate | None]) -> FusionState:
        unknown = set(estimates) - set(self.max_age_s)
        if unknown:
            raise ValueError(f"unknown modalities {sorted(unknown)}; expected some of {tuple(self.max_age_s)}")
        fresh: list[ModalityEstimate] = []
        stale: list[str] = []
        missing: list[str] = []
        for name in self.max_age_s:
            e = estimates.get(name)
            if e is None:
                missing.append(name)
            elif e.name != name:
                raise ValueError(f"estimate named {e.name!r} handed in as {name!r}")
            elif t - e.t > self.max_age_s[name]:
                stale.append(name)
            else:
                fresh.append(e)
        arousal, arousal_sources = _weighted(fresh, "arousal")
        stress, stress_sources = _weighted(fresh, "stress")
        contributed = set(arousal_sources) | set(stress_sources)
        return FusionState(
            t=t,
            arousal=self._arousal.step(t, arousal),
            stress=self._stress.step(t, stress),
            sources=tuple(n for n in self.max_age_s if n in contributed),
            stale=tuple(stale),
            missing=tuple(missing),
            arousal_sources=arousal_sources,
            stress_sources=stress_sources,
        )


def _weighted(fresh: list[ModalityEstimate], field: str) -> tuple[float | None, tuple[str, ...]]:
    """Quality-weighted mean of one field; an estimate without the value, or of quality 0, does not vote."""
    total = weight = 0.0
    names: list[str] = []
    for e in fresh:
        x = getattr(e, field)
        q = min(1.0, max(0.0, e.quality)) if math.isfinite(e.quality) else 0.0
        if x is None or not math.isfinite(x) or q <= 0.0:
            continue
        total += q * min(1.0, max(0.0, x))
        weight += q
        names.append(e.name)
    return (total / weight if weight > 0.0 else None), tuple(names)
