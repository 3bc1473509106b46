"""replay() paces frames by the recording's clock at --pace, and not at all at pace 0."""

import numpy as np

from edge.config import Config
from edge.replay import replay
from edge.session import DriveSession, recorded_modalities
from edge.stats import StageTimer
from edge.types import FaceObservation, Frame


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


class CountingPipeline:
    def __init__(self):
        self.seen: list[float] = []

    def process(self, frame: Frame) -> FaceObservation:
        self.seen.append(frame.t)
        return FaceObservation.absent(frame.t, frame.index)


class ListSink:
    def __init__(self):
        self.messages = []

    def publish(self, topic, payload):
        self.messages.append((topic, payload))

    def close(self):
        pass


def _session(pipeline, sinks):
    return DriveSession(Config(), pipeline, recorded_modalities({}, StageTimer()), sinks, "test")


def _frames(n=10, fps=10.0, t0=5.0):
    image = np.zeros((4, 4), np.uint8)
    return [Frame(image, t0 + i / fps, i) for i in range(n)]


def test_speed_zero_never_sleeps_and_processes_every_frame():
    clock, pipeline, sink = FakeClock(), CountingPipeline(), ListSink()
    summary = replay(_frames(), _session(pipeline, [sink]), pace=0.0, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [] and len(pipeline.seen) == 10 and summary.frames == 10
    assert [p["t"] for _, p in sink.messages] == [5.0, 5.5]
    assert abs(summary.media_seconds - 0.9) < 1e-9


def test_real_time_and_double_speed_wait_for_each_frame():
    for pace, total in ((1.0, 0.9), (2.0, 0.45)):
        clock = FakeClock()
        replay(_frames(), _session(CountingPipeline(), []), pace=pace, sleep=clock.sleep, clock=clock)
        assert abs(sum(clock.sleeps) - total) < 1e-9
        assert len(clock.sleeps) == 9  # the first frame is due at once
