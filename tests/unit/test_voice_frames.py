"""voiced_frames keeps the frames (MFCC and pitch) whose centre lies in a speech frame of the VAD, and only those."""

import numpy as np
import pytest

pytest.importorskip("webrtcvad", reason="webrtcvad-wheels is the optional `audio` extra: pip install '.[audio]'")

from edge.audio.features import FRAME_DIM, MFCC, mfcc_features, pitch_features  # noqa: E402
from edge.audio.vad import VoiceActivity  # noqa: E402
from edge.audio.voice import voiced_frames  # noqa: E402


class Scripted(VoiceActivity):
    """A VAD whose flags are given: checks the frame alignment without depending on WebRTC's decisions."""

    def __init__(self, flags: np.ndarray):
        super().__init__()
        self._flags = flags

    def flags(self, samples: np.ndarray) -> np.ndarray:
        return self._flags


def test_frames_are_kept_where_their_centre_is_in_a_speech_frame() -> None:
    samples = np.random.default_rng(0).normal(0, 3000, 16000).astype(np.int16)  # 1 s
    flags = np.zeros(33, dtype=bool)  # 33 whole 30 ms frames
    flags[10:20] = True  # 300-600 ms
    all_frames = mfcc_features(samples)
    kept = voiced_frames(samples, Scripted(flags))
    centres_ms = np.arange(len(all_frames)) * 10 + 12.5
    inside = (centres_ms >= 300) & (centres_ms < 600)
    assert kept.shape == (30, FRAME_DIM)
    np.testing.assert_array_equal(kept[:, : MFCC.dim], all_frames[inside])
    # pitch of those frames alone: the fill of unpitched frames comes from the kept frames, not from the rest
    np.testing.assert_array_equal(kept[:, MFCC.dim :], pitch_features(samples, np.flatnonzero(inside)))


def test_no_speech_no_frames() -> None:
    samples = np.zeros(16000, dtype=np.int16)
    assert voiced_frames(samples, VoiceActivity()).shape == (0, FRAME_DIM)
