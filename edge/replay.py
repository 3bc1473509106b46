"""Replay: every frame of a recording, in order, through the same vision pipeline and state builder as live.

Time comes from the recording's own timestamps, so a replay is deterministic; `speed` only decides how long to
wait between frames (0: not at all). A drive's audio goes into the voice stage's ring in step with the video: before
each frame, every audio chunk that ends by the frame's time, so the voice stage sees exactly the audio a live
daemon would have had at that moment. Its physiology (physio.csv) goes into the physiology stage the same way:
before each frame, every sample up to the frame's time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from edge.monitor.driver import DriverMonitor, DriverState
from edge.publish import Publisher
from edge.sinks.base import Sink
from edge.types import Frame
from edge.vision.pipeline import VisionPipeline

if TYPE_CHECKING:
    from edge.audio.analyser import VoiceStage
    from edge.physio.stage import PhysioStage
    from edge.sources.audio_ring import AudioChunk
    from edge.sources.serial import PhysioSample


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    frames: int
    face_frames: int
    media_seconds: float
    elapsed_s: float
    states: int

    @property
    def face_found_pct(self) -> float:
        return 100.0 * self.face_frames / self.frames if self.frames else 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.frames} frames ({self.media_seconds:.1f} s of video), face found in {self.face_found_pct:.1f} %, "
            f"{self.states} state messages, {self.elapsed_s:.2f} s at {self.fps:.0f} fps"
        )


def replay(
    frames: Iterable[Frame],
    pipeline: VisionPipeline,
    monitor: DriverMonitor,
    sinks: list[Sink],
    state_hz: float,
    speed: float = 0.0,
    on_frame: Callable[[int, DriverState], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    audio: Iterable[AudioChunk] | None = None,
    voice: VoiceStage | None = None,
    physio_samples: Iterable[PhysioSample] | None = None,
    physio: PhysioStage | None = None,
) -> ReplaySummary:
    """`audio` (the drive's audio.wav as chunks on the drive clock) is fed to `voice` (its ring) as the video goes;
    `physio_samples` (its physio.csv, in time order) to `physio`."""
    publisher = Publisher(sinks, state_hz)
    chunks = iter(audio) if audio is not None and voice is not None else iter(())
    pending = next(chunks, None)
    sensed = iter(physio_samples) if physio_samples is not None and physio is not None else iter(())
    sample = next(sensed, None)
    started = clock()
    first_t: float | None = None
    last_t = 0.0
    n = faces = states = 0
    for frame in frames:
        if first_t is None:
            first_t = frame.t
        if speed > 0:
            wait = (frame.t - first_t) / speed - (clock() - started)
            if wait > 0:
                sleep(wait)
        while pending is not None and pending.t_end <= frame.t:
            voice.ring.write(pending.samples, pending.t_end)  # type: ignore[union-attr]  # chunks only with voice
            pending = next(chunks, None)
        due: list[PhysioSample] = []
        while sample is not None and sample.t <= frame.t:
            due.append(sample)
            sample = next(sensed, None)
        if physio is not None:
            physio.feed(due)
        heard = voice.poll(frame.t) if voice is not None else None
        felt = physio.poll(frame.t) if physio is not None else None
        state = monitor.step(pipeline.process(frame), voice=heard, physio=felt)
        states += publisher.driver_state(state)
        n += 1
        faces += state.obs.present
        last_t = frame.t
        if on_frame is not None:
            on_frame(n, state)
    publisher.end_alerts(monitor, last_t, "end of recording")
    media = (last_t - first_t) if first_t is not None else 0.0
    return ReplaySummary(n, faces, media, clock() - started, states)
