#!/usr/bin/env python3
"""Write a video's frames, as this machine decodes them, into a lossless drive; or hash a replay's frames.

    tools/frames_drive.py VIDEO OUT_DIR     # a drive folder: FFV1 video, the replay's own frame times
    tools/frames_drive.py --hash PATH       # sha256 of the frames `dms replay PATH` would see, and their times

`make check-aarch64` replays such a drive on both machines: the demo clip's H.264 decodes differently on them (up
to 2 grey levels on most pixels; most likely FFmpeg's per-architecture YUV to BGR code), and a camera in the
vehicle gives frames, not a video. FFV1 decodes to the same pixels everywhere, which --hash proves on each side.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.sources.recording import DriveWriter, RecordingError, open_replay  # noqa: E402

LOSSLESS_CODEC = "FFV1"


def write_drive(video: Path, out: Path) -> int:
    """The frames of `video` as `dms replay` reads them, each at its replay time; returns the frame count."""
    with open_replay(video) as source:
        writer, count = None, 0
        for count, frame in enumerate(source, 1):
            if writer is None:
                height, width = frame.image.shape[:2]
                writer = DriveWriter(out, "frames", source.fps, (width, height), origin=0.0, codec=LOSSLESS_CODEC)
            writer.write_frame(frame)
        if writer is None:
            raise RecordingError(f"{video}: no frames")
        writer.close()
        return count


def frames_hash(path: Path) -> tuple[str, int]:
    """sha256 over every frame's time (µs) and pixels, as the replay reads them."""
    digest = hashlib.sha256()
    count = 0
    with open_replay(path) as source:
        for frame in source:
            digest.update(f"{frame.t:.6f}".encode())
            digest.update(frame.image.tobytes())
            count += 1
    return digest.hexdigest(), count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hash", action="store_true", help="print the sha256 of PATH's frames instead")
    parser.add_argument("path", type=Path, help="the video (or, with --hash, a video or drive)")
    parser.add_argument("out", type=Path, nargs="?", help="the drive folder to write (it must not hold a drive)")
    args = parser.parse_args(argv)
    if args.hash == (args.out is not None):
        parser.error("give VIDEO OUT_DIR, or --hash PATH")
    try:
        if args.hash:
            digest, count = frames_hash(args.path)
            print(f"{digest} {count} frames")
        else:
            print(f"{args.out}: {write_drive(args.path, args.out)} frames ({LOSSLESS_CODEC})")
    except RecordingError as err:
        print(f"frames_drive: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
