"""One drive: the vision pipeline, the modalities, the driver monitor and the publisher, stepped one frame (or one
camera-down tick) at a time.

The daemon, replay and the benchmarks differ only in their clock, their sources and their pacing; each runs a
DriveSession, so the per-frame sequence exists once: advance every modality to the frame's time (feed its samples,
take the estimate due), run the monitor on the frame's observation, publish. Set-up from a config is here too,
with one rule for when a modality is present, in the car and in replay: when it has a source (docs/architecture.md).
Not thread-safe: one thread steps a session and runs its commands.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from edge.closing import close_all
from edge.config import Config
from edge.modalities import REGISTERED
from edge.modalities.base import Modality, ModalityKind
from edge.monitor.driver import DriverMonitor, DriverState
from edge.publish import Publisher
from edge.rate import RateGate
from edge.sinks.base import Sink
from edge.stats import StageTimer
from edge.types import FaceObservation, Frame

log = logging.getLogger("edge.session")

OpenModality = Callable[[ModalityKind, Config], Modality]


class Vision(Protocol):
    """Frames to observations: edge.vision.pipeline.VisionPipeline, or a scripted stand-in in tests."""

    def process(self, frame: Frame) -> FaceObservation: ...

    def reset(self) -> None: ...


def live_modalities(timer: StageTimer) -> OpenModality:
    """Each modality from the device its config names (a disabled source when none)."""
    return lambda kind, cfg: kind.live(cfg, timer)


def recorded_modalities(streams: Mapping[str, Path | None], timer: StageTimer, strict: bool = False) -> OpenModality:
    """Each modality from its recorded stream (by stream name), absent without one. May raise InputError; with
    `strict` also for a malformed line, which is otherwise skipped and reported (Modality.skipped)."""

    def open_modality(kind: ModalityKind, cfg: Config) -> Modality:
        path = streams.get(kind.stream)
        return kind.replay(cfg, path, timer, strict) if path is not None else Modality(kind)

    return open_modality


def changed_sections(old: Config, new: Config) -> tuple[str, ...]:
    """The top-level config keys (sections, and device_id) whose values differ. The camera's mount is named on its
    own ("camera.mount"): it feeds the judgement of head pose, and changing it must not restart the camera."""
    changed = []
    for name in type(new).model_fields:
        before, after = getattr(old, name), getattr(new, name)
        if name == "camera":
            if before.mount != after.mount:
                changed.append("camera.mount")
            before, after = before.model_copy(update={"mount": None}), after.model_copy(update={"mount": None})
        if before != after:
            changed.append(name)
    return tuple(changed)


@dataclass(frozen=True, slots=True)
class Reconfigured:
    """What a new config changed, which modalities' sources it restarted, and what was learned about the driver
    that had to be forgotten for it."""

    changed: tuple[str, ...]
    restarted: tuple[str, ...]
    forgotten: tuple[str, ...]


class DriveSession:
    def __init__(
        self,
        cfg: Config,
        vision: Vision,
        open_modality: OpenModality,
        sinks: list[Sink],
        alert_id_prefix: str,
        timer: StageTimer | None = None,
        isolate_sinks: bool = False,
        kinds: Sequence[ModalityKind] = REGISTERED,
        open_vision: Callable[[Config], Vision] | None = None,
    ):
        """`open_modality` builds each of `kinds` (live_modalities, recorded_modalities); modalities are built
        before anything is published, so a bad input fails first. `isolate_sinks`: see Publisher. `open_vision`
        rebuilds the vision stage when a reload changes its config (without it, a reload keeps `vision`)."""
        self.cfg = cfg
        self.vision = vision
        self.timer = timer or StageTimer()
        self._open_modality = open_modality
        self._open_vision = open_vision
        self.modalities = [open_modality(kind, cfg) for kind in kinds]
        present = {m.kind.name for m in self.modalities if m.present}
        self.monitor = DriverMonitor(cfg, alert_id_prefix, kinds, present)
        self.publisher = Publisher(sinks, cfg.state.state_hz, isolate_sinks)
        # The vehicle's latest speed, (km/h, when measured): the monitor judges its age.
        self.speed: tuple[float, float] | None = None

    @classmethod
    def live(cls, cfg: Config, sinks: list[Sink], alert_id_prefix: str, timer: StageTimer,
             kinds: Sequence[ModalityKind] = REGISTERED) -> DriveSession:
        """The daemon's session: the vision models, and every modality from its configured device."""
        from edge.vision.pipeline import VisionPipeline

        def open_vision(c: Config) -> Vision:
            return VisionPipeline.from_config(c, timer)

        return cls(cfg, open_vision(cfg), live_modalities(timer), sinks, alert_id_prefix, timer,
                   isolate_sinks=True, kinds=kinds, open_vision=open_vision)

    # -- the per-frame step -------------------------------------------------------------------------------------

    def frame(self, frame: Frame) -> DriverState:
        started = time.perf_counter()
        obs = self.vision.process(frame)
        self.timer.record("vision", time.perf_counter() - started)
        return self.observe(obs)

    def camera_down(self, t: float, frame_index: int) -> DriverState:
        """A tick without a frame while the camera is down: monitoring degraded, never an absent driver."""
        return self.observe(FaceObservation.absent(t, frame_index), camera_ok=False)

    def observe(self, obs: FaceObservation, camera_ok: bool = True) -> DriverState:
        t = obs.t
        estimates: dict[str, Any] = {}
        for modality in self.modalities:
            estimate = modality.advance(t)
            if estimate is not None:
                estimates[modality.kind.name] = estimate
                measured = modality.kind.vehicle_speed(estimate) if modality.kind.vehicle_speed else None
                if measured is not None:  # the speed stage already keeps the freshest reading
                    self.speed = measured
        faults = tuple(m.kind.source for m in self.modalities if m.faulty())
        speed_kmh, speed_t = self.speed if self.speed is not None else (None, None)
        started = time.perf_counter()
        state = self.monitor.step(obs, camera_ok=camera_ok, speed_kmh=speed_kmh, speed_t=speed_t,
                                  sensor_faults=faults, estimates=estimates)
        published = time.perf_counter()
        self.publisher.driver_state(state)
        self.timer.record("monitor", published - started)
        self.timer.record("publish", time.perf_counter() - published)
        return state

    # -- between steps ------------------------------------------------------------------------------------------

    def command(self, name: str, args: dict[str, Any], now: float) -> dict[str, Any]:
        """cmd/ack and cmd/calibrate: the fields of the result."""
        return self.monitor.command(name, args, now)

    def end(self, t: float, reason: str) -> None:
        """No alert is left without an end when monitoring stops (end of a recording, shutdown)."""
        self.publisher.events(self.monitor.alerts.end_all(t, reason))

    def start(self) -> None:
        """Start the modalities' live sources (replay has none)."""
        for modality in self.modalities:
            modality.start()

    def stop(self) -> None:
        """Stop every modality's live source, each whatever the ones before raised."""
        close_all(log, "session", [(f"stop the {m.kind.source} source", m.stop) for m in self.modalities])

    def reconfigure(self, cfg: Config, alert_id_prefix: str, t: float) -> Reconfigured:
        """Apply a new config between steps, keeping every part whose config did not change: the monitor's parts
        (the learned neutral pose, the open-eye baseline, ...), each modality (the physiology baseline, the voice
        statistics) and the vision stage. A rebuilt modality's source is restarted; open alerts are ended only
        when the alert settings changed. Sinks and the camera are the caller's. The vision stage, the only part
        that can fail to build (its models), is built first: if it raises, nothing has changed."""
        changed = changed_sections(self.cfg, cfg)
        restarted: list[str] = []
        forgotten: list[str] = []
        if self._open_vision is not None and {"vision", "runtime"} & set(changed):
            self.vision = self._open_vision(cfg)
        for i, old in enumerate(self.modalities):
            if not {*old.kind.built_from(cfg), "runtime"} & set(changed):
                continue
            new = self._open_modality(old.kind, cfg)  # built before the old one stops: a failure changes nothing
            old.stop()
            new.start()
            self.modalities[i] = new
            restarted.append(old.kind.source)
            self.monitor.restart_modality(old.kind.name, new.present, t)
            if old.present:
                forgotten.append(old.kind.learned)
        ended, forgot = self.monitor.reconfigure(cfg, alert_id_prefix, t)
        self.publisher.events(ended)
        if cfg.state.state_hz != self.cfg.state.state_hz:
            self.publisher.gate = RateGate(cfg.state.state_hz)
        self.cfg = cfg
        return Reconfigured(changed, tuple(restarted), tuple(forgot + forgotten))

    # -- what the daemon reports --------------------------------------------------------------------------------

    def source_health(self) -> dict[str, dict[str, Any]]:
        """Each modality's source health component, by source name (audio, serial, ...)."""
        return {m.kind.source: m.health() for m in self.modalities}

    def model_problems(self) -> list[str]:
        """Models a modality wanted and runs without (e.g. the stress model), for health's models component."""
        return [m.model_problem for m in self.modalities if m.model_problem]
