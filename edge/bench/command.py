"""`dms bench`'s arguments and run: the main run, the sensor stages, the frame sizes, the empty seat, a driver
who sits down and the boards' projection, one table on the terminal and one JSON (docs/bench.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edge.config import Config, with_overrides


class BenchInputError(ValueError):
    """A bad argument or input: the CLI reports it as a usage error."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video", metavar="FILE", help="default: the demo clip WolfgangLanger_Pexels.mp4")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    p.add_argument("--max-frames", type=int, default=500, help="frames of the video to use (held in memory)")
    p.add_argument("--passes", type=int, default=3, help="timed passes over those frames; the median is reported")
    p.add_argument("--threads", type=int, help="interpreter threads (overrides runtime.num_threads)")
    p.add_argument("--audio", metavar="WAV", help="also time the voice stage on this 16 kHz mono speech recording")
    p.add_argument("--resolution-frames", type=int, default=120,
                   help="frames of the video timed at each of 640x360, 1280x720, 1920x1080 (default 120)")
    p.add_argument("--resolution-passes", type=int, default=1, help="passes at each frame size (default 1)")
    p.add_argument("--empty-seat-s", type=float, default=20.0,
                   help="seconds of pipeline time of the looped empty seat (default 20)")
    p.add_argument("--no-resolutions", action="store_true", help="skip the three frame sizes")
    p.add_argument("--no-empty-seat", action="store_true", help="skip the empty seat and the driver who sits down")
    p.add_argument("--no-projection", action="store_true", help="skip the boards' projection")


def run(args: argparse.Namespace, cfg: Config) -> dict[str, Any]:
    """Runs every part asked for, prints the table and writes the JSON; raises BenchInputError."""
    from edge.bench.core import format_table, run_bench
    from edge.bench.sensors import physio_bench

    video = _video(args)
    counts = {"--max-frames": args.max_frames, "--passes": args.passes,
              "--resolution-frames": args.resolution_frames, "--resolution-passes": args.resolution_passes}
    bad = [name for name, n in counts.items() if n < 1]
    if bad:
        raise BenchInputError(f"{', '.join(bad)} must be >= 1")
    if args.threads is not None:
        cfg = with_overrides(cfg, "--threads", {"runtime": {"num_threads": args.threads}})
    try:
        result = run_bench(video, cfg, args.max_frames, args.passes)
        result["physio"] = physio_bench(cfg, args.passes)
        if args.audio:
            result["voice"] = _voice(Path(args.audio), cfg, args.passes)
        lines = [format_table(result)]
        lines += _scenes(args, cfg, video, result)
    except ValueError as err:
        raise BenchInputError(str(err)) from None
    if not args.no_projection:
        from edge.bench.projection import format_projection, project

        result["projection"] = project(result)
        lines += ["", *format_projection(result["projection"])]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return result


def _video(args: argparse.Namespace) -> Path:
    if args.video:
        video = Path(args.video)
        if not video.is_file():
            raise BenchInputError(f"--video {video}: no such file")
        return video
    from edge.demo import clip_path

    return clip_path("WolfgangLanger_Pexels.mp4")


def _voice(wav: Path, cfg: Config, passes: int) -> dict[str, Any]:
    from edge.bench.sensors import voice_bench
    from edge.sources.audio import AudioError

    try:
        return voice_bench(wav, cfg, passes)
    except AudioError as err:
        raise BenchInputError(str(err)) from None


def _scenes(args: argparse.Namespace, cfg: Config, video: Path, result: dict[str, Any]) -> list[str]:
    """The frame sizes, the empty seat and the driver who sits down, into `result`; their table lines."""
    from edge.bench import scenes
    from edge.bench.core import decode
    from edge.stats import StageTimer

    lines: list[str] = []
    if not args.no_resolutions:
        frames, _ = decode(video, args.resolution_frames, StageTimer())
        parts = scenes.resolution_bench(cfg, {"colour": frames, "mono": scenes.mono(frames)}, args.resolution_passes)
        result["resolutions"], result["resolutions_mono"] = parts["colour"], parts["mono"]
        del frames, parts
        lines += ["", *scenes.format_resolutions(result["resolutions"]),
                  *scenes.format_resolutions(result["resolutions_mono"], "mono frames (a NIR camera's gray)")]
    if not args.no_empty_seat:
        from edge.demo import clip_path

        clip = clip_path(scenes.EMPTY_SEAT_CLIP)
        size = (result["frame_size"][0], result["frame_size"][1])
        result["empty_seat"] = scenes.empty_seat_bench(cfg, clip, size, args.empty_seat_s, args.passes,
                                                       result["cpu_ms_per_frame"])
        result["sit_down"] = scenes.sit_down_bench(cfg, clip)
        lines += ["", *scenes.format_empty_seat(result["empty_seat"]), *scenes.format_sit_down(result["sit_down"])]
    return lines
