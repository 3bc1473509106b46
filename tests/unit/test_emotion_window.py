"""The emotion window: latest scores, window mean, distribution, dominant class and confidence over time."""

import pytest

from edge.monitor.emotion import UNKNOWN, EmotionWindow
from edge.types import EMOTION_LABELS, EmotionEstimate


def estimate(t: float, **scores: float) -> EmotionEstimate:
    rest = (1.0 - sum(scores.values())) / (len(EMOTION_LABELS) - len(scores))
    return EmotionEstimate({k: scores.get(k, rest) for k in EMOTION_LABELS}, t)


def test_dominant_follows_the_window_mean_not_the_latest_frame():
    w = EmotionWindow(window_s=5.0, emotion_hz=5.0)
    for i in range(20):  # 4 s of happy
        s = w.step(i * 0.2, estimate(i * 0.2, happiness=0.9), True)
    s = w.step(4.0, estimate(4.0, anger=0.9), True)  # one angry frame
    assert s.scores["anger"] == pytest.approx(0.9)
    assert s.dominant == "happiness"
    assert s.window_distribution["happiness"] == pytest.approx(20 / 21)
    assert s.window_distribution["anger"] == pytest.approx(1 / 21)
    assert s.window_mean["happiness"] == pytest.approx((20 * 0.9 + 0.1 / 7) / 21)
    assert sum(s.window_mean.values()) == pytest.approx(1.0)


def test_old_estimates_leave_the_window():
    w = EmotionWindow(window_s=2.0, emotion_hz=5.0)
    for i in range(10):
        w.step(i * 0.2, estimate(i * 0.2, happiness=0.9), True)
    for i in range(10, 21):
        s = w.step(i * 0.2, estimate(i * 0.2, sadness=0.8), True)
    assert s.dominant == "sadness" and s.window_n == 10  # t in (2.0, 4.0]: only the sad ones
    assert s.window_distribution["happiness"] == 0.0


def test_an_estimate_repeated_between_emotion_runs_counts_once():
    w = EmotionWindow(window_s=5.0, emotion_hz=5.0)
    e = estimate(0.0, happiness=0.9)
    for i in range(5):  # the pipeline attaches the same estimate to every frame until the next run
        s = w.step(i / 25, e, True)
    assert s.window_n == 1


def test_confidence_is_scaled_by_how_much_of_the_window_has_estimates():
    full, sparse = EmotionWindow(5.0, 5.0), EmotionWindow(5.0, 5.0)
    for i in range(25):
        a = full.step(i * 0.2, estimate(i * 0.2, happiness=0.8), True)
        b = sparse.step(i * 0.2, estimate(i * 0.2, happiness=0.8) if i % 5 == 0 else None, True)
    assert a.confidence == pytest.approx(0.8)
    assert b.confidence == pytest.approx(0.8 * 5 / 25)


def test_unknown_until_there_is_an_estimate_and_the_reason_is_given():
    w = EmotionWindow(5.0, 5.0)
    s = w.step(0.0, None, False)
    assert (s.dominant, s.scores, s.confidence, s.window_mean, s.reason) == (UNKNOWN, None, None, None, "no_face")
    s = w.step(0.2, None, True)
    assert s.dominant == UNKNOWN and s.reason == "low_quality"
    s = w.step(0.4, estimate(0.4, fear=0.7), True)
    assert s.dominant == "fear" and s.reason is None
    s = w.step(0.6, None, True)  # a poor face now: no latest scores, the window still holds the last second
    assert s.scores is None and s.reason == "low_quality" and s.dominant == "fear"
    s = w.step(5.5, None, False)  # the window has emptied
    assert s.dominant == UNKNOWN and s.reason == "no_face" and s.window_n == 0


def test_turned_off_says_so():
    s = EmotionWindow(5.0, emotion_hz=0.0).step(1.0, None, True)
    assert s.dominant == UNKNOWN and s.reason == "off"
