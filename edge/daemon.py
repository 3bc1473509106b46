"""`dms run`: the in-vehicle daemon. A drive session (edge/session.py) fed by the live camera, and supervised.

Threads (docs/architecture.md): "camera" (LiveCamera: newest frame only, reopens with backoff), each modality's
live source ("audio", "serial": the same supervised base), "session" (the worker: runs the queued commands, takes
the newest frame and steps the session — vision, modalities, monitor, publishing — or, while the camera is down, a
20 Hz camera-down tick, so "driver not visible" is never claimed for a dead camera), paho's network thread and the
MQTT pump, and the main thread (signals, watchdog, health, stats, reload). The watchdog is fed only while the
session worker makes progress: a hung pipeline gets the service restarted by systemd; a camera fault does not
(the worker keeps ticking) and is reported in health instead.

Commands arrive on paho's thread and are only queued there: cmd/ack and cmd/calibrate run on the session worker
between frames, cmd/reload (and SIGHUP) on the main thread; each is answered on cmd/result once it has run. A reload
rebuilds only what its changed sections feed, so what was learned about the driver stays unless its own settings
changed, and the result says what was forgotten.
"""

from __future__ import annotations

import logging
import queue
import secrets
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, cast

from edge import sysinfo
from edge.closing import close_all, closing_step
from edge.config import Config, ConfigError
from edge.health import health_payload, source_component, stats_payload
from edge.names import HEALTH, STATS
from edge.session import DriveSession, changed_sections
from edge.sinks.base import Sink
from edge.sinks.commands import Command, queue_or_refuse
from edge.sources.camera import LiveCamera
from edge.stats import StageTimer
from edge.systemd import Notifier
from edge.vision.pipeline import VisionPipeline

log = logging.getLogger("edge.daemon")

CAMERA_DOWN_TICK_S = 0.05  # 20 Hz monitor tick while no frame comes: the alert times stay exact to 50 ms
HEALTH_INTERVAL_S = 5.0
WORKER_RESTARTS = 5  # per WORKER_RESTART_WINDOW_S; beyond that the process exits and systemd restarts it
WORKER_RESTART_WINDOW_S = 300.0
COMMANDS_PER_STEP = 16  # commands run between two frames at most: a flood of them never holds back a frame
COMMANDS_WAITING = 64  # queued for the worker at most (the MQTT sink's rate limit keeps it far lower): memory bound
RELOADS_WAITING = 4  # queued for the main thread at most: each one re-reads the config


@dataclass
class _Shared:
    """Counters the worker updates and the main thread reads (ints and floats: atomic under the GIL)."""

    progress: int = 0  # worker loop iterations: the watchdog's evidence of life
    frames: int = 0
    fps: float | None = None  # frames processed per second over the last ~2 s, written by the worker
    first_frame: threading.Event = field(default_factory=threading.Event)


def _alert_id_prefix(cfg: Config) -> str:
    # Unique across restarts and reloads without trusting the clock (a Pi without RTC boots in the past; systemd
    # may restart twice within a second): subscribers de-duplicate on the id.
    return f"{cfg.device_id}-{secrets.token_hex(4)}"


class Daemon:
    def __init__(self, cfg: Config, reload_config: Callable[[], Config], notifier: Notifier,
                 sinks: list[Sink] | None = None):
        """`reload_config` reads the config again as the command line read `cfg` (its file, then its overrides
        such as --camera); it raises ConfigError for an invalid one."""
        self.cfg = cfg
        self.reload_config = reload_config
        self.notifier = notifier
        self.extra_sinks = sinks or []
        self.started = time.monotonic()
        self.timer = StageTimer(window=2000)
        self.shared = _Shared()
        self.stop_requested = threading.Event()  # the process stops (a signal, or the worker gave up)
        self.worker_stop = threading.Event()  # the worker stops (shutdown, or a reload)
        self.commands: queue.Queue[Command] = queue.Queue(COMMANDS_WAITING)  # for the session worker
        self.reloads: queue.Queue[Command] = queue.Queue(RELOADS_WAITING)  # for the main thread
        self.sighup = False  # set by the signal handler: reload on the main thread's next round
        self.config_error: str | None = None
        self.worker_failures: list[float] = []
        self.exit_code = 0
        self.camera = LiveCamera(cfg.camera)
        self.mqtt = self._mqtt_sink(cfg, end_left_open=True)  # what a crash of the last run left open
        self.session = DriveSession.live(cfg, self._sinks(), _alert_id_prefix(cfg), self.timer)

    def _mqtt_sink(self, cfg: Config, end_left_open: bool = False) -> Sink | None:
        if not cfg.mqtt.enabled:
            return None
        from edge.sinks.mqtt import MqttSink

        return MqttSink(cfg.mqtt, cfg.device_id, on_command=self._on_command, end_left_open=end_left_open)

    def _sinks(self) -> list[Sink]:
        return [*self.extra_sinks, *([self.mqtt] if self.mqtt is not None else [])]

    # -- the session worker -------------------------------------------------------------------------------------

    def _worker(self) -> None:
        last_index = -1
        next_tick = 0.0
        recent: deque[float] = deque(maxlen=120)
        while not self.worker_stop.is_set():
            self._run_commands()
            frame = self.camera.latest(last_index, timeout=CAMERA_DOWN_TICK_S)
            now = time.monotonic()
            if frame is not None:
                self.session.frame(frame)
                last_index = frame.index
                self.shared.frames += 1
                recent.append(now)
                while recent and now - recent[0] > 2.0:
                    recent.popleft()
                span = recent[-1] - recent[0]
                self.shared.fps = (len(recent) - 1) / span if span > 0 else None
                self.shared.first_frame.set()
            elif self.camera.health().state in ("unavailable", "stopped") and now >= next_tick:
                self.session.camera_down(now, max(last_index, 0))
                next_tick = now + CAMERA_DOWN_TICK_S
                self.shared.fps = None
            self.shared.progress += 1

    def _supervised_worker(self) -> None:
        """Runs the worker; an exception restarts it (after a reset of the vision stage) within a budget."""
        while not self.worker_stop.is_set():
            try:
                self._worker()
                return
            except Exception:  # noqa: BLE001 - supervision: log, count, restart
                now = time.monotonic()
                log.exception("session worker failed; restarting it")
                self.worker_failures = [t for t in self.worker_failures if now - t < WORKER_RESTART_WINDOW_S] + [now]
                if len(self.worker_failures) > WORKER_RESTARTS:
                    log.critical("session worker failed %d times in %.0f s: giving up", WORKER_RESTARTS + 1,
                                 WORKER_RESTART_WINDOW_S)
                    self.exit_code = 1
                    self.stop_requested.set()
                    return
                self.session.vision.reset()

    def _start_worker(self) -> None:
        self.worker_stop.clear()
        self.worker = threading.Thread(target=self._supervised_worker, name="session", daemon=True)
        self.worker.start()

    def _stop_worker(self) -> None:
        self.worker_stop.set()
        self.worker.join(timeout=10.0)
        if self.worker.is_alive():
            log.error("the session worker did not stop within 10 s")

    # -- commands and reload ------------------------------------------------------------------------------------

    def _on_command(self, command: Command) -> None:
        """On paho's network thread: only hand the command to the thread that runs it, or refuse it at once."""
        queue_or_refuse(self.reloads if command.name == "reload" else self.commands, command)

    def _run_commands(self) -> None:
        """cmd/ack and cmd/calibrate, on the worker (which owns the session), a bounded number per step."""
        for _ in range(COMMANDS_PER_STEP):
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            try:
                command.reply(self.session.command(command.name, command.args, time.monotonic()))
            except Exception as err:  # noqa: BLE001 - a command's failure must not restart the worker
                log.exception("command %s failed", command.name)
                command.reply({"ok": False, "reason": f"internal error: {type(err).__name__}"})

    def _reload(self, command: Command | None) -> None:
        """Apply the config file again (SIGHUP, cmd/reload). An invalid one is refused and the old one stays (health
        says why); a valid one rebuilds only the parts whose sections changed, with the worker paused."""
        try:
            cfg = self.reload_config()
        except ConfigError as err:
            self.config_error = f"reload refused, running on the previous config: {'; '.join(err.problems)}"
            log.error("%s", self.config_error)
            if command is not None:
                command.reply({"ok": False, "reason": "; ".join(err.problems)})
            return
        self.config_error = None
        changed = changed_sections(self.cfg, cfg)
        if not changed:
            if command is not None:
                command.reply({"reason": "no change", "changed": [], "restarted": [], "forgotten": []})
            return
        self.notifier.reloading()
        self._stop_worker()
        try:
            report = self.session.reconfigure(cfg, _alert_id_prefix(cfg), time.monotonic())
        except Exception as err:  # noqa: BLE001 - e.g. the new models cannot be loaded: run on as before
            self.config_error = f"reload failed, running on the previous config: {type(err).__name__}: {err}"
            log.exception("%s", self.config_error)
            if command is not None:
                command.reply({"ok": False, "reason": self.config_error})
            self._start_worker()
            self.notifier.ready()
            return
        restarted = list(report.restarted)
        if "camera" in changed:
            self.camera.stop()
            self.camera = LiveCamera(cfg.camera)
            self.camera.start()
            restarted.append("camera")
        new_broker = bool({"mqtt", "device_id"} & set(changed))
        restarted += ["mqtt"] if new_broker else []
        self.cfg = cfg
        if command is not None:  # through the sink it came from, before a changed one is replaced
            kept = "everything learned about the driver is kept"
            forgotten = f"forgotten: {', '.join(report.forgotten)}" if report.forgotten else kept
            command.reply({"reason": f"reloaded; {forgotten}", "changed": list(changed), "restarted": restarted,
                           "forgotten": list(report.forgotten)})
        if new_broker:
            if self.mqtt is not None:
                self._close(self.mqtt)  # first: a new sink on the same outbox must not send its rows twice
            self.mqtt = self._mqtt_sink(cfg)
            self.session.publisher.sinks = self._sinks()
        self._start_worker()
        self.notifier.ready()
        log.info("configuration reloaded: %s changed; restarted %s; forgotten %s", ", ".join(changed),
                 ", ".join(restarted) or "nothing", ", ".join(report.forgotten) or "nothing")

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def run(self) -> int:
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            if signum == signal.SIGHUP:
                self.sighup = True  # a flag, not a queue: the handler may interrupt this thread inside the queue's lock
            else:
                stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, on_signal)
        self.camera.start()
        self.session.start()
        self._start_worker()
        ready = False
        last_progress, last_ping = -1, 0.0
        next_health, next_stats = 0.0, time.monotonic() + self.cfg.mqtt.stats_interval_s
        while not stop.is_set() and not self.stop_requested.is_set():
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
            if self.sighup:
                self.sighup = False
                self._reload(None)
            while not self.reloads.empty():
                self._reload(self.reloads.get_nowait())
            if now >= next_health:
                next_health = now + HEALTH_INTERVAL_S
                self.session.publisher.publish(HEALTH, self._health(now))
                if ready:
                    self.notifier.status(self._status_line())
            if now >= next_stats:
                next_stats = now + self.cfg.mqtt.stats_interval_s
                self.session.publisher.publish(STATS, self._stats(now))
        self._shutdown()
        return self.exit_code

    def _shutdown(self) -> None:
        """Stop the worker and the sources, end every open alert, answer what is still queued, then close the sinks
        (the MQTT sink flushes its outbox, then publishes `stopped`). Each step runs whatever the ones before raised:
        a camera that fails to close must not leave an alert open or the outbox unflushed."""
        failed = close_all(log, "dms run", [
            ("tell systemd", self.notifier.stopping),
            ("stop the session worker", self._stop_worker),
            ("stop the camera", self.camera.stop),
            ("stop the sensors", self.session.stop),
            ("end the open alerts", lambda: self.session.end(time.monotonic(), "stopped")),
            ("answer the queued commands", self._refuse_queued),
            *((f"close the {type(sink).__name__}", sink.close) for sink in self._sinks()),
        ])
        if failed:
            self.exit_code = self.exit_code or 1

    def _refuse_queued(self) -> None:
        for pending in (self.commands, self.reloads):
            while not pending.empty():
                pending.get_nowait().reply({"ok": False, "reason": "the daemon is stopping"})

    @staticmethod
    def _close(sink: Sink) -> None:
        closing_step(log, "dms run", f"close the {type(sink).__name__}", sink.close)

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
        m = h.metrics
        return f"camera {h.state}, {m['fps']:.1f} fps, {self.shared.frames} frames, {m['dropped']} dropped"

    def _health(self, now: float) -> dict[str, Any]:
        camera = self.camera.health()
        # A model a modality wanted but did not load (the stress model): the driver is monitored, that is unknown.
        problems = self.session.model_problems()
        vision = cast(VisionPipeline, self.session.vision)
        models = {"state": "degraded" if problems else "ok", "detail": "; ".join(problems) or None,
                  "metrics": {"backend": vision.detector.model.backend}}
        components = {"camera": source_component(camera), **self.session.source_health(), "models": models}
        return health_payload(now, now - self.started, components, self.shared.fps, camera.metrics["dropped"],
                              config_error=self.config_error)

    def _stats(self, now: float) -> dict[str, Any]:
        stages = self.timer.percentiles_ms()
        self.timer.clear()
        return stats_payload(
            now, self.cfg.mqtt.stats_interval_s, stages, self.shared.fps, self.camera.health().metrics["dropped"],
            sysinfo.cpu_percent(), sysinfo.rss_mb(), sysinfo.soc_temperature_c(),
            throttling.as_dict() if (throttling := sysinfo.throttling()) is not None else None,
        )
