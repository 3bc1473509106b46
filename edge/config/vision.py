"""Config sections of the camera and the vision stage: camera, runtime, vision, eyes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config._base import DEFAULT_MODELS_DIR, Degrees, Fraction, Seconds, _Section, bounded
from edge.config.mount import MountConfig

# Frames behind each learned eye baseline (edge/monitor/eyes.py): ~20 s at 30 fps, so it follows lighting and
# posture changes over a drive.
EYE_BASELINE_WINDOW = 600


class CameraConfig(_Section):
    # A video file path, a V4L2 device ("/dev/video0" or an index such as "0"), or "gst:" + a GStreamer pipeline
    # ending in appsink.
    source: str = "0"
    # px, requested from V4L2 devices; None keeps the driver's default.
    width: int | None = bounded(640, gt=0, le=7680, why="8K UHD; no camera this product supports is wider")
    height: int | None = bounded(480, gt=0, le=4320, why="8K UHD; no camera this product supports is taller")
    # Requested from V4L2; used as the nominal rate of files without one.
    fps: float = bounded(30.0, gt=0.0, le=240.0, why="the fastest V4L2 camera modes; no board processes more")
    fourcc: str | None = Field(None, min_length=4, max_length=4)  # e.g. "MJPG", "GREY", "YUYV"
    reopen_initial_s: Seconds = 0.5  # first wait before reopening a failed device; doubles up to reopen_max_s
    reopen_max_s: Seconds = 10.0
    frame_timeout_s: Seconds = 2.0  # no frame for this long: the camera is reported unavailable and reopened
    mount: MountConfig = MountConfig()  # where the camera sits relative to the road-ahead line (edge/config/mount.py)

    @field_validator("source", mode="before")
    @classmethod
    def _index_as_text(cls, v: object) -> object:
        # `source = 0` is the natural TOML for the first V4L2 device.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _timing(self) -> CameraConfig:
        if self.reopen_max_s < self.reopen_initial_s:
            raise ValueError("reopen_max_s must be >= reopen_initial_s")
        if self.frame_timeout_s < 2.0 / self.fps:
            raise ValueError(f"frame_timeout_s must be at least two frame periods (>= {2.0 / self.fps:.3f} s)")
        return self


class RuntimeConfig(_Section):
    # auto: ai-edge-litert, else tflite-runtime; litert-builtin: ai-edge-litert without XNNPACK (docs/platforms.md)
    backend: Literal["auto", "litert", "tflite-runtime", "litert-builtin"] = "auto"
    # Per interpreter; 1 gives the least CPU time per frame.
    num_threads: int = bounded(1, ge=1, le=16, why="more than the cores of any supported board: they would contend")
    # OpenCV's own thread pool; 1 keeps small crops on the worker's thread (its pool added CPU time per frame
    # for no speed-up at 640x360). 0 lets OpenCV choose.
    opencv_threads: int = bounded(1, ge=0, le=64, why="a pool this big only contends on an edge board's 4-12 cores")
    models_dir: Path = DEFAULT_MODELS_DIR  # relative paths are taken from the config file's folder


class VisionConfig(_Section):
    # Contrast normalisation of the detector's and FaceMesh's gray inputs: "clahe" (local; on dim or flat frames it
    # keeps the landmarks twice as near the frame as recorded as "none" does, for 0.15-0.26 ms per frame),
    # "equalize" (global histogram, ~0.15 ms cheaper, farther off on every frame), or "none" (tools/eval_normalise.py).
    normalise: Literal["clahe", "equalize", "none"] = "clahe"
    clahe_clip_limit: float = bounded(
        2.0, gt=0.0, le=256.0, why="OpenCV clips a bin at limit x pixels / 256: at 256 none is clipped, more changes "
        "nothing and huge ones overflow")
    clahe_tile_grid: int = bounded(  # tiles per side of the 192 px landmark crop
        4, ge=1, le=32, why="6 px tiles of the 192 px crop; smaller ones hold too few pixels for a histogram")
    detector_score_threshold: Fraction = 0.5  # MediaPipe's default for BlazeFace short range
    detector_nms_iou: Fraction = 0.3  # MediaPipe's weighted-NMS overlap
    # Also run the detector every N tracked frames; 0: only when lost.
    redetect_every_n_frames: int = bounded(0, ge=0, le=108_000, why="an hour at 30 fps; rarer is the same as 0")
    # Nobody in the seat: once no face has been found for `search_after_s`, the detector looks `search_hz` times a
    # second instead of on every frame (a parked car with the daemon on costs a fraction of a driven one), and on
    # every frame again from the first face found. A driver who sits down is seen within 1/search_hz s.
    search_after_s: Seconds = 2.0
    search_hz: float = bounded(  # at least once a second; at the camera's rate or above, every frame
        5.0, ge=1.0, le=240.0, why="the fastest camera rate; at or above the camera's, every frame is searched")
    # While the head is still and the eyes open, the last landmarks may stand for up to this many tracked frames in
    # a row instead of running FaceMesh (edge/vision/stillness.py). 0 (FaceMesh on every frame) until it passes
    # tools/eval_tracking.py on the real clips: at 1 it saved 2-20 % CPU, but a reused frame's head pose is stale
    # beyond the tracker's own spread on yawning drivers (docs/bench.md).
    still_reuse_max: int = bounded(0, ge=0, le=5, why="0.17 s at 30 fps; longer would hide the start of a blink")
    # Mean absolute change of the face's square, in gray levels, up to which the head counts as still.
    still_threshold: float = bounded(3.0, ge=0.0, le=32.0, why="an eighth of the gray range: more is motion, not noise")
    # Reuse only after a frame whose eye-state model found both eyes open with a closed probability below this.
    still_open_below: Fraction = 0.5
    landmark_presence_threshold: Fraction = 0.5  # FaceMesh face-presence probability that keeps a track alive
    # The driver's seat in normalised frame coordinates (x0, y0, x1, y1): the largest face whose centre lies inside
    # is the driver; passengers elsewhere are ignored.
    driver_region: tuple[Fraction, Fraction, Fraction, Fraction] = (0.0, 0.0, 1.0, 1.0)
    # Smaller faces are too far or too small to judge eyes.
    min_face_size_px: float = bounded(40.0, ge=0.0, le=4320.0, why="the height of an 8K frame: no face is larger")
    max_pose_deg: Degrees = 45.0  # |yaw| or |pitch| beyond this: quality drops to 0
    # Camera focal length; None approximates it by the frame width.
    focal_length_px: float | None = bounded(
        None, gt=0.0, le=100_000.0, why="an 8K sensor behind a 4.4 degree telephoto lens; driver cameras are wide")
    emotion_hz: float = bounded(  # emotion model rate; 0 turns it off
        5.0, ge=0.0, le=60.0, why="emotions change over seconds; more than 60 Hz only burns CPU")
    # "own": the project's model (models/emotion.tflite, tools/train_emotion.py); "fer": the fer package's
    # (the baseline, 58 % on FER-2013's PublicTest against the project's 65.8 %).
    emotion_model: Literal["own", "fer"] = "own"
    emotion_min_quality: Fraction = 0.5  # face quality below this: the emotion is unknown, the model is not run
    emotion_window_s: float = bounded(  # window of the reported emotion mean and dominant class
        5.0, gt=0.0, le=600.0, why="10 minutes: an older emotion says nothing about the driver now")

    @field_validator("driver_region")
    @classmethod
    def _region_ordered(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if not (v[0] < v[2] and v[1] < v[3]):
            raise ValueError("driver_region must be (x0, y0, x1, y1) with x0 < x1 and y0 < y1")
        return v


class EyesConfig(_Section):
    # Eye openness = the eye-state model's P(closed) fused with the eye aspect ratio against the driver's own
    # open-eye EAR, learned online from confident open-eye frames (glasses and eye shape shift EAR per driver).
    model_weight: Fraction = 0.6  # weight of the CNN against the EAR cue (the CNN is better on unseen subjects)
    ear_closed_ratio: float = bounded(  # EAR / baseline at which the EAR cue says 50 % closed
        0.55, gt=0.0, lt=1.0, why="a share of the open-eye EAR: at 1 an open eye would be half closed")
    ear_default_baseline: float = bounded(  # open-eye EAR used until the driver's is learned
        0.28, gt=0.0, lt=1.0, why="an eye as tall as it is wide; open eyes measure 0.25-0.35")
    # Confident open-eye frames before the learned baseline is used.
    baseline_samples: int = bounded(
        90, ge=10, le=EYE_BASELINE_WINDOW, why=f"the baseline is the median of the last {EYE_BASELINE_WINDOW} "
        "frames: a larger count is never reached")
    closed_threshold: Fraction = 0.6  # closure starts at P(closed) >= this...
    open_threshold: Fraction = 0.4  # ...and ends at <= this (hysteresis against flicker)
    # Gray-level std of the eye (the crop's centre) below which it is hidden (dark glasses, a hand). On MRL's NIR
    # eyes 0.5 % of closed ones fall below 3.0 (16 % below 6): higher thresholds would hide real closures.
    min_crop_contrast: float = bounded(3.0, ge=0.0, le=128.0, why="the gray-level std of 8-bit pixels is at most 127.5")
    max_saturated_fraction: Fraction = 0.2  # share of saturated pixels in an eye crop; above: glare
    # Dark lenses: the skin around the eye (lid under the brow, rim below the eye) over the face's bare skin,
    # smoothed per eye over lens_smoothing_s and averaged over both eyes, below this. Bare eyes and clear glasses
    # (the unlabelled real clips): never below 0.75 (one eye alone: 0.44 in shadow at night); sunglasses ~0.5.
    max_lens_surround: float = bounded(
        0.55, ge=0.0, le=2.0, why="bare eyes measure about 1: near 2 every eye is behind dark lenses")
    lens_smoothing_s: Seconds = 0.5  # s; time constant: a reflection in the lens lasts a few frames
    # Head pitched down this far below the driver's usual pitch (median of open-eye frames, vehicle frame): eyes on
    # the lap, whose lowered lids the CNN reads as closed: its P(closed) then counts only as far as the EAR has
    # fallen below downcast_ear_ratio × the driver's open-eye EAR (50 % there). Looking down at food: EAR ~0.9-1.1
    # of the baseline; eyes shut with the head down (the demo clip's end): ~0.65-0.7.
    downcast_pitch_deg: Degrees = 10.0
    downcast_ear_ratio: float = bounded(
        0.8, gt=0.0, lt=1.5, why="a share of the open-eye EAR: 1.5 would count wide-open eyes as closed")
    min_face_quality: Fraction = 0.3  # below: the eyes are not judged
    max_yaw_deg: Degrees = 40.0  # beyond: the far eye is self-occluded

    @model_validator(mode="after")
    def _hysteresis(self) -> EyesConfig:
        if self.open_threshold >= self.closed_threshold:
            raise ValueError("open_threshold must be < closed_threshold")
        return self
