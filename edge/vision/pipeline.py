"""The vision worker: one frame in, one FaceObservation out.

Detect the driver's face only when there is no track (or every N frames when configured); otherwise take the
landmark ROI from the previous frame's landmarks, which is both faster and steadier than detecting again.
Not thread-safe: one pipeline per vision worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.config import Config, VisionConfig
from edge.models import model_path
from edge.runtime import Model
from edge.stats import StageTimer
from edge.types import Detection, EmotionEstimate, FaceObservation, Frame, HeadPose
from edge.vision.emotion import EmotionClassifier
from edge.vision.face_detector import FaceDetector
from edge.vision.geometry import LEFT_EYE, RIGHT_EYE, HeadPoseEstimator, eye_aspect_ratio, mouth_aspect_ratio
from edge.vision.landmarks import FaceMesh, LandmarkResult, roi_from_detection, roi_from_landmarks
from edge.vision.preprocess import Normaliser, to_gray
from edge.types import Box


@dataclass(frozen=True, slots=True)
class VisionModels:
    detector: Model
    landmarks: Model
    emotion: Model | None

    @staticmethod
    def load(models_dir: Path, num_threads: int = 1, backend: str = "auto", emotion: bool = True) -> VisionModels:
        def load(name: str) -> Model:
            return Model(model_path(name, models_dir), num_threads=num_threads, backend=backend)

        return VisionModels(load("face_detector"), load("face_landmarks"), load("emotion_fer") if emotion else None)


def select_driver(detections: list[Detection], width: int, height: int, region: tuple[float, ...]) -> Detection | None:
    """The largest face whose centre lies in the driver region (normalised x0, y0, x1, y1)."""
    x0, y0, x1, y1 = region[0] * width, region[1] * height, region[2] * width, region[3] * height
    inside = [d for d in detections if x0 <= d.box.center[0] <= x1 and y0 <= d.box.center[1] <= y1]
    return max(inside, key=lambda d: d.box.area, default=None)


def face_quality(presence: float, size_px: float, pose: HeadPose | None, cfg: VisionConfig) -> float:
    """Presence probability × a size factor (0 below the minimum size, 1 from twice it) × a pose factor (1 up to
    half the maximum yaw/pitch, falling linearly to 0 at the maximum)."""
    if size_px < cfg.min_face_size_px:
        return 0.0
    size_factor = min(1.0, size_px / (2.0 * cfg.min_face_size_px)) if cfg.min_face_size_px > 0 else 1.0
    if pose is None:
        pose_factor = 0.5
    else:
        turn = max(abs(pose.yaw), abs(pose.pitch)) / cfg.max_pose_deg
        pose_factor = float(np.clip(2.0 * (1.0 - turn), 0.0, 1.0))
    return round(presence * size_factor * pose_factor, 4)


class VisionPipeline:
    def __init__(self, cfg: VisionConfig, models: VisionModels, timer: StageTimer | None = None):
        self.cfg = cfg
        self.timer = timer or StageTimer()
        normaliser = Normaliser(cfg.normalise, cfg.clahe_clip_limit, cfg.clahe_tile_grid)
        self.detector = FaceDetector(models.detector, normaliser, cfg.detector_score_threshold, cfg.detector_nms_iou)
        self.mesh = FaceMesh(models.landmarks, normaliser)
        self.emotion = EmotionClassifier(models.emotion) if models.emotion and cfg.emotion_hz > 0 else None
        self.pose = HeadPoseEstimator(cfg.focal_length_px)
        self.reset()

    @staticmethod
    def from_config(cfg: Config, timer: StageTimer | None = None) -> VisionPipeline:
        rt = cfg.runtime
        models = VisionModels.load(rt.models_dir, rt.num_threads, rt.backend, emotion=cfg.vision.emotion_hz > 0)
        return VisionPipeline(cfg.vision, models, timer)

    def reset(self) -> None:
        """Forget the track (a new drive, a reopened camera)."""
        self._track: np.ndarray | None = None
        self._track_detector_score: float | None = None
        self._frames_since_detect = 0
        self._emotion: EmotionEstimate | None = None

    def process(self, frame: Frame) -> FaceObservation:
        rec = self.timer.record
        t0 = time.perf_counter()
        gray = to_gray(frame.image)
        h, w = gray.shape[:2]
        t1 = time.perf_counter()
        rec("preprocess", t1 - t0)

        result, tracked = self._landmarks(gray, w, h)
        if result is None:
            self.reset()
            return FaceObservation.absent(frame.t, frame.index)
        pts = result.points

        t2 = time.perf_counter()
        ear_right = eye_aspect_ratio(pts, RIGHT_EYE)
        ear_left = eye_aspect_ratio(pts, LEFT_EYE)
        mar = mouth_aspect_ratio(pts)
        pose = self.pose.from_landmarks(pts, w, h)
        xs, ys = pts[:, 0], pts[:, 1]
        box = Box(float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        size_px = float(max(box.width, box.height))
        quality = face_quality(result.presence, size_px, pose, self.cfg)
        t3 = time.perf_counter()
        rec("geometry", t3 - t2)

        if self.emotion is not None and self._emotion_due(frame.t):
            self._emotion = self.emotion.classify(gray, pts, frame.t)
            rec("emotion", time.perf_counter() - t3)

        return FaceObservation(
            t=frame.t,
            frame_index=frame.index,
            present=True,
            quality=quality,
            tracked=tracked,
            detector_score=self._track_detector_score,
            landmark_score=round(result.presence, 4),
            box=box,
            face_size_px=size_px,
            pose=pose,
            ear_left=ear_left,
            ear_right=ear_right,
            mar=mar,
            emotion=self._emotion,
            landmarks=pts,
        )

    def _landmarks(self, gray: np.ndarray, w: int, h: int) -> tuple[LandmarkResult | None, bool]:
        """Landmarks from the track when there is one, else (or when that fails) from a fresh detection."""
        rec = self.timer.record
        n = self.cfg.redetect_every_n_frames
        if self._track is not None and not (n and self._frames_since_detect >= n):
            t0 = time.perf_counter()
            res = self.mesh.run(gray, roi_from_landmarks(self._track))
            rec("landmarks", time.perf_counter() - t0)
            if res.presence >= self.cfg.landmark_presence_threshold:
                self._track = res.points
                self._frames_since_detect += 1
                return res, True
            self._track = None

        t0 = time.perf_counter()
        det = select_driver(self.detector.detect(gray), w, h, self.cfg.driver_region)
        t1 = time.perf_counter()
        rec("detect", t1 - t0)
        if det is None:
            return None, False
        res = self.mesh.run(gray, roi_from_detection(det))
        rec("landmarks", time.perf_counter() - t1)
        if res.presence < self.cfg.landmark_presence_threshold:
            return None, False
        self._track = res.points
        self._track_detector_score = round(det.score, 4)
        self._frames_since_detect = 0
        return res, False

    def _emotion_due(self, t: float) -> bool:
        if self._emotion is None:
            return True
        # Half a frame of slack so 5 Hz on a 25 fps camera is every 5th frame, not every 6th.
        return t - self._emotion.t >= 1.0 / self.cfg.emotion_hz - 0.02
