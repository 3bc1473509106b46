"""MediaPipe's FaceMesh solution against this project's per-frame session work, on the same frames, in one run.

    PYTHONPATH=. .venv/bin/python tools/mediapipe_facemesh.py [--video FILE] [--max-frames 500] [--passes 3]
        [--sizes 640x360,1280x720,1920x1080] [--mono] [--json OUT]

MediaPipe 0.10.14 needs numpy < 2, so it runs in its own venv (`make mediapipe-venv`: .venv-mediapipe), as a
worker process of this script reading the same decoded frames from a .npy file in a temporary folder (deleted at
the end; the frames never leave the machine). The two take turns pass by pass (ABAB..., the order flipped every
other pass), so a machine's drift hits both alike. MediaPipe runs its graph on threads of its own: both sides are
timed in process CPU time (time.process_time, every thread of the process) around each frame's call, not in wall
time, from the camera's frame to landmarks: the project's gray conversion and MediaPipe's conversion to the RGB its
solution requires are each side's own work. Scaling a frame to the size happens outside the timing. With --mono the
frames are the clip's in gray, as a NIR camera gives them.

The MediaPipe side is mp.solutions.face_mesh.FaceMesh(static_image_mode=False, refine_landmarks=False,
max_num_faces=1): landmarks with its own tracking, a fresh one each pass after a short warm-up. The project's side is
`dms bench`'s: the whole session (vision with eyes and emotion, the monitor, the state payload); and, like for like,
its landmarks alone (VisionPipeline.locate), timed in the same turn. docs/bench.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MEDIAPIPE_PYTHON = ROOT / ".venv-mediapipe" / "bin" / "python"
WARMUP_FRAMES = 10


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    if not (w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: a size is WIDTHxHEIGHT, e.g. 640x360")
    return int(w), int(h)


# -- the worker, in .venv-mediapipe: numpy, OpenCV and MediaPipe only -------------------------------------------


def worker(frames_npy: Path) -> int:
    """Answers each "W H" line on stdin with one timed pass over the frames at that size, as a JSON line."""
    import cv2
    import mediapipe as mp
    import numpy as np

    frames = np.load(frames_npy, mmap_mode="r")
    to_rgb = cv2.COLOR_GRAY2RGB if frames.ndim == 3 else cv2.COLOR_BGR2RGB  # (N, H, W): a mono camera's frames

    def sized(i: int, size: tuple[int, int]) -> np.ndarray:
        image = np.array(frames[i])  # in memory, as the project's frames are: no page of the file read in the timing
        h, w = image.shape[:2]
        if (w, h) != size:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR)
        return image

    def landmarks(mesh: Any, image: np.ndarray) -> bool:
        """The camera's frame to landmarks: MediaPipe's solution takes RGB only, so the conversion is its work, as
        the gray conversion is the project's."""
        return bool(mesh.process(cv2.cvtColor(image, to_rgb)).multi_face_landmarks)

    print(json.dumps({"mediapipe": mp.__version__, "numpy": np.__version__}), flush=True)
    for line in sys.stdin:
        size = tuple(int(v) for v in line.split())
        mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, refine_landmarks=False, max_num_faces=1)
        for i in range(min(WARMUP_FRAMES, len(frames))):
            landmarks(mesh, sized(i, size))
        cpu = wall = 0.0
        faces = 0
        for i in range(len(frames)):
            image = sized(i, size)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            faces += landmarks(mesh, image)
            cpu += time.process_time() - cpu0
            wall += time.perf_counter() - wall0
        mesh.close()
        n = len(frames)
        print(json.dumps({"cpu_ms": cpu / n * 1000.0, "wall_ms": wall / n * 1000.0, "faces": faces}), flush=True)
    return 0


# -- the orchestrator, in the project's venv ----------------------------------------------------------------------


class MediaPipeWorker:
    def __init__(self, python: Path, frames_npy: Path):
        self.proc = subprocess.Popen([str(python), __file__, "--worker", str(frames_npy)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.versions = self._reply()

    def _reply(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while line := self.proc.stdout.readline():
            if line.startswith("{"):  # a native library may print to stdout too
                return json.loads(line)
        raise RuntimeError(f"the MediaPipe worker stopped (exit {self.proc.wait()}); see its error above")

    def run_pass(self, size: tuple[int, int]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{size[0]} {size[1]}\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def compare(video: Path, max_frames: int, passes: int, sizes: list[tuple[int, int]],
            python: Path = MEDIAPIPE_PYTHON, mono: bool = False) -> dict[str, Any]:
    import numpy as np

    from edge.bench.core import decode, time_passes
    from edge.config import load_config
    from edge.runtime import configure_process
    from edge.stats import StageTimer
    from edge.vision.pipeline import VisionPipeline

    cfg = load_config(None)
    configure_process(cfg.runtime.opencv_threads)
    frames, _ = decode(video, max_frames, StageTimer())
    if mono:
        from edge.bench.scenes import mono as in_gray

        frames = in_gray(frames)
    timer = StageTimer(window=len(frames))
    pipeline = VisionPipeline.from_config(cfg, timer)
    ours: dict[tuple[int, int], list[float]] = {size: [] for size in sizes}
    located: dict[tuple[int, int], list[float]] = {size: [] for size in sizes}  # our landmarks alone
    theirs: dict[tuple[int, int], list[float]] = {size: [] for size in sizes}
    faces: dict[str, dict[tuple[int, int], int]] = {"project": {}, "mediapipe": {}}
    with tempfile.TemporaryDirectory(prefix="dms-mediapipe-") as tmp:
        frames_npy = Path(tmp) / "frames.npy"
        np.save(frames_npy, np.stack([f.image for f in frames]))
        mediapipe = MediaPipeWorker(python, frames_npy)
        try:
            for size in sizes:  # our warm-up; MediaPipe's is in each of its passes
                time_passes(cfg, pipeline, frames[:WARMUP_FRAMES], 1, timer, size)
            for k in range(passes):
                for size in sizes:
                    for side in ("project", "mediapipe") if k % 2 == 0 else ("mediapipe", "project"):
                        if side == "project":
                            timed = time_passes(cfg, pipeline, frames, 1, timer, size)
                            ours[size] += timed.cpu_ms
                            faces[side][size] = timed.faces
                            located[size].append(landmarks_pass(pipeline, frames, size))
                        else:
                            reply = mediapipe.run_pass(size)
                            theirs[size].append(reply["cpu_ms"])
                            faces[side][size] = reply["faces"]
        finally:
            mediapipe.close()
    rows = []
    for size in sizes:
        a, b = statistics.median(ours[size]), statistics.median(theirs[size])
        alone = statistics.median(located[size])
        rows.append({
            "frame_size": list(size),
            "project_cpu_ms_per_frame": round(a, 3),
            "mediapipe_cpu_ms_per_frame": round(b, 3),
            "ratio": round(a / b, 3),  # the project's per-frame work / MediaPipe's FaceMesh solution
            "project_landmarks_cpu_ms_per_frame": round(alone, 3),  # what MediaPipe's side does, no more
            "landmarks_ratio": round(alone / b, 3),
            "project_passes": [round(c, 3) for c in ours[size]],
            "project_landmarks_passes": [round(c, 3) for c in located[size]],
            "mediapipe_passes": [round(c, 3) for c in theirs[size]],
            "project_face_found_pct": round(100.0 * faces["project"][size] / len(frames), 2),
            "mediapipe_face_found_pct": round(100.0 * faces["mediapipe"][size] / len(frames), 2),
        })
    return {"video": str(video), "frames": len(frames), "passes": passes, "timing": "process CPU time per frame",
            "frames_kind": "mono" if mono else "colour",
            "mediapipe": mediapipe.versions, "sizes": rows}


def landmarks_pass(pipeline: Any, frames: list[Any], size: tuple[int, int]) -> float:
    """Process CPU ms per frame of the project's landmarks alone (VisionPipeline.locate: gray conversion, detector
    when there is no track, FaceMesh), a fresh track as MediaPipe's side has: like for like with MediaPipe."""
    from edge.bench.core import scaled

    pipeline.reset()
    cpu = 0.0
    for frame in frames:
        frame = scaled(frame, size)
        start = time.process_time()
        pipeline.locate(frame)
        cpu += time.process_time() - start
    return cpu / len(frames) * 1000.0


def format_result(result: dict[str, Any]) -> str:
    lines = [f"{result['frames']} {result['frames_kind']} frames of {Path(result['video']).name}, median of "
             f"{result['passes']} passes "
             f"each, in turns; process CPU time per frame (MediaPipe {result['mediapipe']['mediapipe']})",
             f"{'size':<12}{'project ms':>12}{'MediaPipe ms':>14}{'ratio':>8}{'landmarks ms':>14}{'ratio':>8}"]
    for row in result["sizes"]:
        w, h = row["frame_size"]
        lines.append(f"{f'{w}x{h}':<12}{row['project_cpu_ms_per_frame']:>12.2f}"
                     f"{row['mediapipe_cpu_ms_per_frame']:>14.2f}{row['ratio']:>8.2f}"
                     f"{row['project_landmarks_cpu_ms_per_frame']:>14.2f}{row['landmarks_ratio']:>8.2f}")
    lines.append("ratio: the project's whole per-frame session work (vision with eye states and emotion, the monitor, "
                 "the state payload) / MediaPipe's FaceMesh solution (landmarks alone)")
    lines.append("landmarks: the project's landmarks alone (gray, detector when lost, FaceMesh), like for like")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", metavar="FRAMES_NPY", help=argparse.SUPPRESS)
    p.add_argument("--video", metavar="FILE", help="default: the demo clip WolfgangLanger_Pexels.mp4 (640x360)")
    p.add_argument("--max-frames", type=int, default=500)
    p.add_argument("--passes", type=int, default=3, help="passes of each side; the median is reported (default 3)")
    p.add_argument("--sizes", default="640x360", help="frame sizes, comma-separated (default 640x360)")
    p.add_argument("--mediapipe-python", default=str(MEDIAPIPE_PYTHON), help="the MediaPipe venv's python")
    p.add_argument("--mono", action="store_true",
                   help="the frames in gray, as a NIR camera gives them (MediaPipe gets them as RGB)")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.worker:
        return worker(Path(args.worker))
    try:
        sizes = [parse_size(s) for s in args.sizes.split(",")]
    except argparse.ArgumentTypeError as err:
        p.error(str(err))
    if args.max_frames <= WARMUP_FRAMES or args.passes < 1:
        p.error(f"--max-frames must be > {WARMUP_FRAMES} and --passes >= 1")
    python = Path(args.mediapipe_python)
    if not python.exists():
        print(f"{python}: no MediaPipe venv; build it with `make mediapipe-venv`", file=sys.stderr)
        return 2
    if args.video:
        video = Path(args.video)
        if not video.is_file():
            p.error(f"--video {video}: no such file")
    else:
        from edge.demo import clip_path

        video = clip_path("WolfgangLanger_Pexels.mp4")
    result = compare(video, args.max_frames, args.passes, sizes, python, args.mono)
    print(format_result(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
