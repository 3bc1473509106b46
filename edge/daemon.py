"""`dms run`: the in-vehicle daemon. Assembles camera → vision → monitor → sinks from the config and supervises it.

Threads: "camera" (LiveCamera: newest frame only, reopens with backoff), "audio" (MicrophoneSource, when enabled:
PortAudio's callback fills a ring; reopens with backoff), "vision" (the worker: frame → observation → monitor →
events and state; a 20 Hz tick while the camera is down, so "driver not visible" is never claimed for a dead camera
and health says why; between frames it also runs the voice stage, once per audio.hop_s, and the physiology stage on
the serial sensor's samples, once per physio.hop_s: ~10 ms a second does not need a thread of its own, and the
monitor stays single-threaded), paho's network thread, and the main thread
(signals, watchdog, health, stats, reload). The watchdog is fed only while the vision worker makes progress: a hung
pipeline gets the service restarted by systemd; a camera fault does not (the worker keeps ticking) and is reported in
health instead.
"""

from __future__ import annotations

import logging
import queue
import secrets
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge import sysinfo
from edge.config import Config, ConfigError, load_config
from edge.health import health_payload, source_component, stats_payload
from edge.monitor.driver import DriverMonitor
from edge.physio.stage import PhysioStage
from edge.publish import Publisher
from edge.sinks.base import Sink
from edge.sources.audio import MicrophoneSource
from edge.sources.camera import LiveCamera
from edge.sources.serial import SerialSource
from edge.stats import StageTimer
from edge.systemd import Notifier
from edge.types import FaceObservation
from edge.vision.pipeline import VisionPipeline

log = logging.getLogger("edge.daemon")

CAMERA_DOWN_TICK_S = 0.05  # 20 Hz monitor tick while no frame comes (DESIGN.md)
HEALTH_INTERVAL_S = 5.0
WORKER_RESTARTS = 5  # per WORKER_RESTART_WINDOW_S; beyond that the process exits and systemd restarts it
WORKER_RESTART_WINDOW_S = 300.0
COMMAND_TIMEOUT_S = 1.0


@dataclass
class _Shared:
    """Counters the worker updates and the main thread reads (ints and floats: atomic under the GIL)."""

    progress: int = 0  # worker loop iterations: the watchdog's evidence of life
    frames: int = 0
    fps: float | None = None  # frames processed per second over the last ~2 s, written by the worker
    first_frame: threading.Event = field(default_factory=threading.Event)


class Daemon:
    def __init__(self, cfg: Config, config_path: Path | None, notifier: Notifier, sinks: list[Sink] | None = None):
        self.cfg = cfg
        self.config_path = config_path
        self.notifier = notifier
        self.extra_sinks = sinks or []
        self.started = time.monotonic()
        self.timer = StageTimer(window=2000)
        self.shared = _Shared()
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self.commands: queue.Queue[tuple[str, dict[str, Any], Future[dict[str, Any]]]] = queue.Queue()
        self.config_error: str | None = None
        self.worker_failures: list[float] = []
        self._build()

    # -- assembly ---------------------------------------------------------------------------------------------

    def _build(self) -> None:
        cfg = self.cfg
        self.pipeline = VisionPipeline.from_config(cfg, self.timer)
        # Unique across restarts without trusting the clock (a Pi without RTC boots in the past; systemd may
        # restart twice within a second): subscribers de-duplicate on the id.
        self.monitor = DriverMonitor(cfg, f"{cfg.device_id}-{secrets.token_hex(4)}")
        self.camera = LiveCamera(cfg.camera)
        self.serial = SerialSource(cfg.serial)  # without a port it starts nothing and reports "disabled"
        # Without a port there is nothing to interpret; a missing stress model leaves stress unknown ("no_model").
        self.physio = PhysioStage.from_config(cfg, timer=self.timer) if cfg.serial.port is not None else None
        self._build_audio()
        sinks: list[Sink] = list(self.extra_sinks)
        if cfg.mqtt.enabled:
            from edge.sinks.mqtt import MqttSink

            sinks.append(MqttSink(cfg.mqtt, cfg.device_id, on_command=self._on_command))
        self.sinks = sinks
        self.publisher = Publisher(sinks, cfg.state.state_hz, isolate_sinks=True)

    def _build_audio(self) -> None:
        """The microphone and the voice stage when audio is enabled. A missing audio extra or voice model leaves
        the daemon running without voice, and health says why (as it does for a missing sound device)."""
        from edge.audio.analyser import VoiceStage

        # Disabled in the config, it starts nothing and reports "disabled".
        self.audio: MicrophoneSource | None = MicrophoneSource(self.cfg.audio)
        self.voice: VoiceStage | None = None
        self.audio_error: str | None = None
        if not self.cfg.audio.enabled:
            return
        try:
            self.voice = VoiceStage.from_config(self.cfg, self.audio.ring, self.timer)
        except (ImportError, OSError, RuntimeError, ValueError) as err:
            self.audio, self.audio_error = None, f"voice stage not started: {err}"
            log.error("%s", self.audio_error)

    def _close_sinks(self, also_extra: bool) -> None:
        for sink in self.sinks:
            if also_extra or sink not in self.extra_sinks:
                try:
                    sink.close()
                except Exception:  # noqa: BLE001 - closing must go on for the others
                    log.exception("closing a sink failed")

    # -- the vision worker ------------------------------------------------------------------------------------

    def _worker(self) -> None:
        last_index = -1
        next_tick = 0.0
        recent: deque[float] = deque(maxlen=120)
        while not self.stop_requested.is_set():
            self._run_commands()
            samples = self.serial.drain()  # every loop, so the source's buffer never overflows
            if self.physio is not None:
                self.physio.feed(samples)
            frame = self.camera.latest(last_index, timeout=CAMERA_DOWN_TICK_S)
            now = time.monotonic()
            if frame is not None:
                obs = self.pipeline.process(frame)
                last_index = frame.index
                camera_ok = True
                self.shared.frames += 1
                recent.append(now)
                while recent and now - recent[0] > 2.0:
                    recent.popleft()
                span = recent[-1] - recent[0]
                self.shared.fps = (len(recent) - 1) / span if span > 0 else None
                self.shared.first_frame.set()
            elif self.camera.health().state in ("unavailable", "stopped") and now >= next_tick:
                obs, camera_ok = FaceObservation.absent(now, max(last_index, 0)), False
                next_tick = now + CAMERA_DOWN_TICK_S
                self.shared.fps = None
            else:
                self.shared.progress += 1
                continue
            voice = self.voice.poll(now) if self.voice is not None else None
            physio = self.physio.poll(now) if self.physio is not None else None
            state = self.monitor.step(obs, camera_ok=camera_ok, sensor_faults=self._sensor_faults(), voice=voice,
                                      physio=physio)
            self.publisher.driver_state(state)
            self.shared.progress += 1

    def _sensor_faults(self) -> tuple[str, ...]:
        faults = ["serial"] if self.serial.health().state in ("silent", "unavailable") else []
        if self.audio_error is not None or (self.audio is not None and self.audio.health().state == "unavailable"):
            faults.append("audio")
        return tuple(faults)

    def _supervised_worker(self) -> None:
        """Runs the worker; an exception restarts it (after a reset of the pipeline) within a budget."""
        while not self.stop_requested.is_set():
            try:
                self._worker()
                return
            except Exception:  # noqa: BLE001 - supervision: log, count, restart
                now = time.monotonic()
                log.exception("vision worker failed; restarting it")
                self.worker_failures = [t for t in self.worker_failures if now - t < WORKER_RESTART_WINDOW_S] + [now]
                if len(self.worker_failures) > WORKER_RESTARTS:
                    log.critical("vision worker failed %d times in %.0f s: giving up", WORKER_RESTARTS + 1,
                                 WORKER_RESTART_WINDOW_S)
                    self.stop_requested.set()
                    self.exit_code = 1
                    return
                self.pipeline.reset()

    # -- commands (from paho's thread) and reload -------------------------------------------------------------

    def _on_command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Runs on the MQTT network thread: reload is validated here; ack and calibrate are handed to the worker,
        which owns the monitor."""
        if name == "reload":
            try:
                load_config(self.config_path)
            except ConfigError as err:
                return {"ok": False, "reason": "; ".join(err.problems)}
            self.reload_requested.set()
            return {"ok": True, "reason": "reloading"}
        future: Future[dict[str, Any]] = Future()
        self.commands.put((name, payload, future))
        try:
            return future.result(timeout=COMMAND_TIMEOUT_S)
        except TimeoutError:
            return {"ok": False, "reason": "the vision worker did not answer in time"}

    def _run_commands(self) -> None:
        while True:
            try:
                name, payload, future = self.commands.get_nowait()
            except queue.Empty:
                return
            future.set_result(self.monitor.command(name, payload, time.monotonic()))

    def _reload(self) -> None:
        """Apply a new config between frames: the old one stays if the new one is invalid (and health says why)."""
        self.reload_requested.clear()
        try:
            cfg = load_config(self.config_path)
        except ConfigError as err:
            self.config_error = f"reload refused, running on the previous config: {'; '.join(err.problems)}"
            log.error("%s", self.config_error)
            return
        self.notifier.reloading()
        self._stop_workers(reason="reload")
        self._close_sinks(also_extra=False)
        self.cfg, self.config_error = cfg, None
        self._build()
        self._start_workers()
        self.notifier.ready()
        log.info("configuration reloaded from %s", self.config_path)

    # -- lifecycle --------------------------------------------------------------------------------------------

    def _start_workers(self) -> None:
        self.stop_requested.clear()
        self.camera.start()
        self.serial.start()
        if self.audio is not None:
            self.audio.start()
        self.worker = threading.Thread(target=self._supervised_worker, name="vision", daemon=True)
        self.worker.start()

    def _stop_workers(self, reason: str) -> None:
        self.stop_requested.set()
        self.worker.join(timeout=10.0)
        self.camera.stop()
        self.serial.stop()
        if self.audio is not None:
            self.audio.stop()
        self.publisher.end_alerts(self.monitor, time.monotonic(), reason)

    def run(self) -> int:
        self.exit_code = 0
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            if signum == signal.SIGHUP:
                self.reload_requested.set()
            else:
                stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, on_signal)
        self._start_workers()
        ready = False
        last_progress, last_ping = -1, 0.0
        next_health, next_stats = 0.0, time.monotonic() + self.cfg.mqtt.stats_interval_s
        while not stop.is_set() and not (self.stop_requested.is_set() and self.exit_code):
            stop.wait(0.1)
            now = time.monotonic()
            if not ready and self._ready_to_announce(now):
                ready = True
                self.notifier.ready()
                self.notifier.status(self._status_line())
            interval = self.notifier.watchdog_interval_s
            progress = self.shared.progress
            if interval and progress != last_progress and now - last_ping >= interval:
                self.notifier.watchdog()
                last_progress, last_ping = progress, now
            if self.reload_requested.is_set():
                self._reload()
            if now >= next_health:
                next_health = now + HEALTH_INTERVAL_S
                self.publisher.publish("health", self._health(now))
                if ready:
                    self.notifier.status(self._status_line())
            if now >= next_stats:
                next_stats = now + self.cfg.mqtt.stats_interval_s
                self.publisher.publish("stats", self._stats(now))
        self.notifier.stopping()
        self._stop_workers(reason="stopped")
        self._close_sinks(also_extra=True)  # the MQTT sink flushes its outbox, then publishes `stopped`
        return self.exit_code

    def _ready_to_announce(self, now: float) -> bool:
        """After the first processed frame; or, with a camera that stays unavailable, once that is sure: a
        missing camera is reported in health, not turned into a service that never starts."""
        if self.shared.first_frame.is_set():
            return True
        return (
            self.camera.health().state == "unavailable" and now - self.started > 2 * self.cfg.camera.frame_timeout_s
        )

    def _status_line(self) -> str:
        h = self.camera.health()
        fps, dropped = h.metrics["fps"], h.metrics["dropped"]
        return f"camera {h.state}, {fps:.1f} fps, {self.shared.frames} frames, {dropped} dropped"

    def _health(self, now: float) -> dict[str, Any]:
        h = self.camera.health()
        # A stress model that was wanted but did not load: the driver is monitored, physiological stress is unknown.
        stress_problem = self.physio.model_problem if self.physio is not None else None
        models = {"state": "degraded" if stress_problem else "ok", "detail": stress_problem,
                  "metrics": {"backend": self.pipeline.detector.model.backend}}
        components = {"camera": source_component(h), "audio": self._audio_health(),
                      "serial": source_component(self.serial.health()), "models": models}
        return health_payload(now, now - self.started, components, self.shared.fps, h.metrics["dropped"],
                              config_error=self.config_error)

    def _audio_health(self) -> dict[str, Any]:
        if self.audio_error is not None or self.audio is None:
            return {"state": "unavailable", "detail": self.audio_error}
        return source_component(self.audio.health())

    def _stats(self, now: float) -> dict[str, Any]:
        stages = self.timer.percentiles_ms()
        self.timer.clear()
        return stats_payload(
            now, self.cfg.mqtt.stats_interval_s, stages, self.shared.fps, self.camera.health().metrics["dropped"],
            sysinfo.cpu_percent(), sysinfo.rss_mb(), sysinfo.soc_temperature_c(),
            throttling.as_dict() if (throttling := sysinfo.throttling()) is not None else None,
        )
