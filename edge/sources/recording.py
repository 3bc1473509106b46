"""Recorded drives (docs/recording.md): the replay reader and the writer.

A drive is a folder with `drive.json`, a video, `video_ts.csv` (one time per video frame on the drive clock) and
optional audio, physiology, speed and label files. Replay also takes a bare video file. Every time is in seconds
on the drive clock, whose zero is the start of the recording.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from edge.skips import Skip
from edge.sources.video_frames import FrameAccount, frames_by_position, frames_with_ts
from edge.types import Frame

FORMAT_NAME = "edge-dms-drive"
FORMAT_VERSION = 1
DRIVE_JSON = "drive.json"
VIDEO_TS_HEADER = ("frame", "t_s")
LABELS_HEADER = ("start_s", "end_s", "label")
# Default file names of the streams; drive.json may name others, and streams of other names.
DEFAULT_FILES = {
    "video": "video.mkv",
    "timestamps": "video_ts.csv",
    "audio": "audio.wav",
    "physio": "physio.csv",
    "speed": "speed.csv",
    "labels": "labels.csv",
}
# MJPG in Matroska: every frame is a key frame, and opencv-python-headless both writes and reads it (checked with
# avi/MJPG and mp4/mp4v too; all three work, mkv is the smallest of the MJPG ones).
VIDEO_CODEC = "MJPG"
DEFAULT_FPS = 30.0

Label = tuple[float, float, str]


class RecordingError(Exception):
    """A drive or video that cannot be read or written; the message names the file (and line)."""


def open_replay(path: str | Path, default_fps: float = DEFAULT_FPS) -> ReplaySource:
    """Open a drive folder or a bare video file. `default_fps` times a bare video that reports no rate."""
    return ReplaySource(Path(path), default_fps)


class ReplaySource:
    """Every frame of a recording, in file order, with `t` on the drive clock (see the module docstring)."""

    def __init__(self, path: Path, default_fps: float = DEFAULT_FPS):
        if not path.exists():
            raise RecordingError(f"{path}: no such file or folder")
        self.path = path
        self.info: dict[str, Any] = {}
        self.labels: list[Label] = []
        self.streams: dict[str, Path] = {}  # the drive's signals beside the video (audio, physio, ...), by name
        self._times: list[float] | None = None
        declared_fps: float | None = None
        if path.is_dir():
            self.info = _read_drive_json(path / DRIVE_JSON)
            streams = self.info["streams"]
            video = streams["video"]
            self._video_path = _stream_path(path, streams, "video", required=True)
            ts_path = _stream_file(path, video.get("timestamps"), "timestamps", f"{DRIVE_JSON}: streams.video")
            if ts_path is not None:
                self._times = _read_video_ts(ts_path)
            for name in sorted((DEFAULT_FILES.keys() | streams.keys()) - {"video", "timestamps", "labels"}):
                if (found := _stream_path(path, streams, name)) is not None:
                    self.streams[name] = found
            labels_path = _stream_path(path, streams, "labels")
            if labels_path is not None:
                self.labels = read_labels(labels_path)
            declared_fps = video.get("fps")
        else:
            self._video_path = path
        self._cap = self._open_video()
        self._used = False
        self._account: FrameAccount | None = None
        fps = declared_fps if declared_fps is not None else self._cap.get(cv2.CAP_PROP_FPS)
        self.fps: float = fps if math.isfinite(fps) and 0.0 < fps <= 1000.0 else default_fps
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if self._times is not None:
            self.frame_count: int | None = len(self._times)
        else:  # as the container reports it: an estimate for some formats
            count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.frame_count = count if count > 0 else None

    def _open_video(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self._video_path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise RecordingError(f"{self._video_path}: not a readable video")
        return cap

    def __iter__(self) -> Iterator[Frame]:
        # Each iteration starts from the first frame; reopening is more reliable than seeking in a video.
        if self._used:
            self._cap.release()
            self._cap = self._open_video()
        self._used = True
        if self._times is not None:
            self._account = FrameAccount(str(self._video_path), len(self._times), "video_ts.csv has {n} rows")
            return frames_with_ts(self._cap, self._times, self._account)
        self._account = FrameAccount(str(self._video_path), self.frame_count, "the container declares {n} frames")
        return frames_by_position(self._cap, self.fps, self._account)

    def skipped(self) -> list[Skip]:
        """What the latest pass over the frames left out (edge/skips.py)."""
        return self._account.skips() if self._account is not None else []

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> ReplaySource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_drive_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RecordingError(f"{path.parent}: not a drive folder (no {DRIVE_JSON})")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise RecordingError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecordingError(f"{path}: cannot read: {err}") from None
    if not isinstance(info, dict):
        raise RecordingError(f"{path}: expected a JSON object")
    if info.get("format") != FORMAT_NAME:
        raise RecordingError(f"{path}: format must be {FORMAT_NAME!r} (got {info.get('format')!r})")
    if info.get("version") != FORMAT_VERSION:
        raise RecordingError(
            f"{path}: unsupported version {info.get('version')!r} (this reader knows version {FORMAT_VERSION})"
        )
    if not isinstance(info.get("device"), str):
        raise RecordingError(f"{path}: device must be a string (got {info.get('device')!r})")
    try:
        parse_started_at(info.get("started_at"))
    except (TypeError, ValueError):
        raise RecordingError(
            f"{path}: started_at must be an ISO 8601 time (got {info.get('started_at')!r})"
        ) from None
    streams = info.get("streams")
    if not isinstance(streams, dict) or not all(isinstance(s, dict) for s in streams.values()):
        raise RecordingError(f"{path}: streams must be an object of objects, e.g. {{\"video\": {{\"file\": ...}}}}")
    if "video" not in streams:
        raise RecordingError(f"{path}: streams.video is missing")
    fps = streams["video"].get("fps")
    if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
        raise RecordingError(f"{path}: streams.video.fps must be a positive number (got {fps!r})")
    return info


def parse_started_at(value: object) -> datetime:
    """drive.json's started_at: ISO 8601. A trailing "Z" (UTC) is accepted on every Python: before 3.11
    datetime.fromisoformat() rejects it."""
    if not isinstance(value, str):
        raise TypeError(f"started_at must be a string (got {value!r})")
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _stream_path(folder: Path, streams: dict[str, Any], name: str, required: bool = False) -> Path | None:
    where = f"{DRIVE_JSON}: streams.{name}"
    declared = streams.get(name, {}).get("file")
    path = _stream_file(folder, declared, name, where)
    if path is None and required:
        raise RecordingError(f"{folder / DEFAULT_FILES[name]}: missing ({where} names no other file)")
    return path


def _stream_file(folder: Path, declared: object, name: str, where: str) -> Path | None:
    """The file drive.json names (it must exist), else the default name when present (labels added later)."""
    if declared is None:
        default = folder / DEFAULT_FILES[name] if name in DEFAULT_FILES else None
        return default if default is not None and default.is_file() else None
    if not isinstance(declared, str) or not declared or Path(declared).is_absolute() or ".." in Path(declared).parts:
        raise RecordingError(f"{folder / DRIVE_JSON}: {where} must be a file name inside the drive (got {declared!r})")
    path = folder / declared
    if not path.is_file():
        raise RecordingError(f"{path}: missing (named by {where})")
    return path


def _csv_rows(path: Path, header: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each data row after checking the header; blank lines are skipped."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            first = next(reader, None)
            if first is None or tuple(c.strip() for c in first) != header:
                raise RecordingError(f"{path}:1: header must be {','.join(header)} (got {','.join(first or [])!r})")
            for row in reader:
                if row:
                    yield reader.line_num, row
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RecordingError(f"{path}: cannot read: {err}") from None


def csv_number(text: str, path: Path, line: int, column: str) -> float:
    """A finite number from a CSV cell, or a RecordingError naming the file, line and column."""
    try:
        value = float(text)
    except ValueError:
        raise RecordingError(f"{path}:{line}: {column} is not a number ({text!r})") from None
    if not math.isfinite(value):
        raise RecordingError(f"{path}:{line}: {column} must be finite ({text!r})")
    return value


def _read_video_ts(path: Path) -> list[float]:
    times: list[float] = []
    for line, row in _csv_rows(path, VIDEO_TS_HEADER):
        if len(row) != 2:
            raise RecordingError(f"{path}:{line}: expected 2 columns frame,t_s (got {len(row)})")
        if row[0].strip() != str(len(times)):
            raise RecordingError(
                f"{path}:{line}: frame must be {len(times)}, the frame's position in the video (got {row[0]!r})"
            )
        t = csv_number(row[1], path, line, "t_s")
        if times and t <= times[-1]:
            raise RecordingError(f"{path}:{line}: t_s {t} does not increase (previous {times[-1]})")
        times.append(t)
    return times


def read_labels(path: str | Path) -> list[Label]:
    """labels.csv: start_s,end_s,label rows on the drive clock; raises RecordingError naming the bad line."""
    path = Path(path)
    labels: list[Label] = []
    for line, row in _csv_rows(path, LABELS_HEADER):
        if len(row) != 3:
            raise RecordingError(f"{path}:{line}: expected 3 columns start_s,end_s,label (got {len(row)})")
        start = csv_number(row[0], path, line, "start_s")
        end = csv_number(row[1], path, line, "end_s")
        label = row[2].strip()
        if end < start:
            raise RecordingError(f"{path}:{line}: end_s {end} is before start_s {start}")
        if not label:
            raise RecordingError(f"{path}:{line}: empty label")
        labels.append((start, end, label))
    return labels


class DriveWriter:
    """Writes a drive folder: video (MJPG in Matroska), video_ts.csv, optional labels.csv, and drive.json.

    `origin` is the pipeline-clock time that becomes 0 on the drive clock; None takes the first frame's `t`.
    `codec` "FFV1" stores the frames losslessly (tools/frames_drive.py: the same pixels on every machine).
    drive.json is written at once (so an interrupted recording still replays up to its last timestamped
    frame) and again by close() with the frame count. Gray frames are stored as BGR.
    """

    def __init__(
        self,
        folder: str | Path,
        device_id: str,
        fps: float,
        frame_size: tuple[int, int],
        origin: float | None = None,
        codec: str = VIDEO_CODEC,
    ):
        self.folder = Path(folder)
        if (self.folder / DRIVE_JSON).exists():
            raise RecordingError(f"{self.folder}: already holds a drive; not overwriting it")
        if not (fps > 0 and math.isfinite(fps)):
            raise RecordingError(f"{self.folder}: fps must be positive (got {fps})")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._size = (int(frame_size[0]), int(frame_size[1]))  # (width, height)
        self._origin = origin
        self._fps = float(fps)
        self._codec = codec
        self._frames = 0
        self._last_t = -math.inf
        self._has_labels = False
        self._info: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "device": device_id,
            "started_at": datetime.now(timezone.utc).isoformat(),
        }
        video_path = self.folder / DEFAULT_FILES["video"]
        self._video = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*codec), self._fps, self._size)
        if not self._video.isOpened():
            raise RecordingError(f"{video_path}: cannot write {codec} video here")
        self._ts: TextIO = (self.folder / DEFAULT_FILES["timestamps"]).open("w", newline="", encoding="utf-8")
        self._ts.write(",".join(VIDEO_TS_HEADER) + "\n")
        self._write_info()

    def write_frame(self, frame: Frame) -> None:
        image = frame.image
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if (image.shape[1], image.shape[0]) != self._size or image.dtype != np.uint8 or image.shape[2] != 3:
            # VideoWriter silently skips such frames, which would shift every later timestamp.
            raise RecordingError(
                f"{self.folder}: frame {frame.index} is {image.shape[1]}x{image.shape[0]} {image.dtype}, "
                f"expected {self._size[0]}x{self._size[1]} uint8"
            )
        if self._origin is None:
            self._origin = frame.t
        t = round(frame.t - self._origin, 6)  # microseconds: the resolution of video_ts.csv
        if t <= self._last_t:
            raise RecordingError(f"{self.folder}: frame {frame.index} time {t} s does not increase")
        self._video.write(image)
        self._ts.write(f"{self._frames},{t:.6f}\n")
        self._frames += 1
        self._last_t = t

    def write_labels(self, labels: Iterable[Label]) -> None:
        """Write labels.csv: (start_s, end_s, label) on the drive clock."""
        path = self.folder / DEFAULT_FILES["labels"]
        with path.open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(LABELS_HEADER)
            for start, end, label in labels:
                if not (math.isfinite(start) and math.isfinite(end) and end >= start and label.strip()):
                    raise RecordingError(f"{path}: bad label {(start, end, label)!r}")
                out.writerow((f"{start:.6f}", f"{end:.6f}", label))
        self._has_labels = True

    def close(self) -> None:
        if self._ts.closed:
            return
        self._video.release()
        self._ts.close()
        self._write_info()

    def __enter__(self) -> DriveWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write_info(self) -> None:
        streams: dict[str, Any] = {
            "video": {
                "file": DEFAULT_FILES["video"],
                "timestamps": DEFAULT_FILES["timestamps"],
                "codec": self._codec,
                "fps": self._fps,
                "width": self._size[0],
                "height": self._size[1],
                "frames": self._frames,
            }
        }
        if self._has_labels:
            streams["labels"] = {"file": DEFAULT_FILES["labels"]}
        info = {**self._info, "streams": streams}
        # Write-then-rename: a reader never sees half a drive.json.
        tmp = self.folder / (DRIVE_JSON + ".tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.folder / DRIVE_JSON)
