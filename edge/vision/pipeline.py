"""The vision stage: one frame in, one FaceObservation out.

Detect the driver's face only when there is no track (or every N frames when configured); otherwise take the
landmark ROI from the previous frame's landmarks, which is both faster and steadier than detecting again. Once the
seat has been empty for `search_after_s`, the detector runs only `search_hz` times a second, and on every frame again
from the first face it finds.
Not thread-safe: one pipeline per drive session (edge/session.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.config import Config, VisionConfig
from edge.models import load_manifest, model_path
from edge.rate import RateGate
from edge.runtime import Model
from edge.stats import StageTimer
from edge.types import EMOTION_LABELS, Box, Detection, EmotionEstimate, FaceObservation, Frame, HeadPose
from edge.vision.emotion import EMOTION_MODELS, EmotionClassifier
from edge.vision.eyes import EyeStateClassifier
from edge.vision.face_detector import FaceDetector
from edge.vision.geometry import LEFT_EYE, RIGHT_EYE, HeadPoseEstimator, eye_aspect_ratio, mouth_aspect_ratio
from edge.vision.landmarks import FaceMesh, LandmarkResult, Roi, roi_from_detection, roi_from_landmarks
from edge.vision.preprocess import Normaliser, to_gray
from edge.vision.stillness import StillFace


@dataclass(frozen=True, slots=True)
class VisionModels:
    detector: Model
    landmarks: Model
    eyes: Model
    emotion: Model | None
    emotion_labels: tuple[str, ...] = EMOTION_LABELS  # the emotion model's classes, from its manifest entry

    @staticmethod
    def load(
        models_dir: Path, num_threads: int = 1, backend: str = "auto", emotion_model: str | None = "own"
    ) -> VisionModels:
        """`emotion_model` is vision.emotion_model ("own", "fer"); None loads no emotion model."""

        def load(name: str) -> Model:
            return Model(model_path(name, models_dir), num_threads=num_threads, backend=backend)

        emotion = EMOTION_MODELS[emotion_model] if emotion_model else None
        return VisionModels(
            load("face_detector"),
            load("face_landmarks"),
            load("eye_state"),
            load(emotion) if emotion else None,
            load_manifest(models_dir)[emotion].labels if emotion else EMOTION_LABELS,
        )


def in_region(box: Box, width: int, height: int, region: tuple[float, ...]) -> bool:
    """Whether the box's centre lies in the region (normalised x0, y0, x1, y1)."""
    cx, cy = box.center
    return region[0] * width <= cx <= region[2] * width and region[1] * height <= cy <= region[3] * height


def select_driver(detections: list[Detection], width: int, height: int, region: tuple[float, ...]) -> Detection | None:
    """The largest face whose centre lies in the driver region."""
    inside = [d for d in detections if in_region(d.box, width, height, region)]
    return max(inside, key=lambda d: d.box.area, default=None)


def landmark_box(points: np.ndarray) -> Box:
    xs, ys = points[:, 0], points[:, 1]
    return Box(float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))


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
        pose_factor = min(1.0, max(0.0, 2.0 * (1.0 - turn)))
    return round(presence * size_factor * pose_factor, 4)


class VisionPipeline:
    def __init__(self, cfg: VisionConfig, models: VisionModels, timer: StageTimer | None = None):
        self.cfg = cfg
        self.timer = timer or StageTimer()
        normaliser = Normaliser(cfg.normalise, cfg.clahe_clip_limit, cfg.clahe_tile_grid)
        self.detector = FaceDetector(models.detector, normaliser, cfg.detector_score_threshold, cfg.detector_nms_iou)
        self.mesh = FaceMesh(models.landmarks, normaliser)
        self.eyes = EyeStateClassifier(models.eyes)
        self.emotion = (EmotionClassifier(models.emotion, models.emotion_labels)
                        if models.emotion and cfg.emotion_hz > 0 else None)
        self.pose = HeadPoseEstimator(cfg.focal_length_px)
        self.still = StillFace(cfg.still_reuse_max, cfg.still_threshold, cfg.still_open_below)
        self.reused = 0  # tracked frames whose landmarks were the last run's (edge/vision/stillness.py)
        self.reset()

    @staticmethod
    def from_config(cfg: Config, timer: StageTimer | None = None) -> VisionPipeline:
        rt, vision = cfg.runtime, cfg.vision
        emotion = vision.emotion_model if vision.emotion_hz > 0 else None
        models = VisionModels.load(rt.models_dir, rt.num_threads, rt.backend, emotion_model=emotion)
        return VisionPipeline(vision, models, timer)

    def reset(self) -> None:
        """Start afresh (a new drive, a reopened camera): no track, and the seat searched on every frame."""
        self._lose_face()
        self._absent_since: float | None = None  # the first frame without a face, since the last one with a face
        self._search_gate: RateGate | None = None  # while the seat has been empty for search_after_s

    def _lose_face(self) -> None:
        self._track: Roi | None = None  # where to look for the face in the next frame
        self._frames_since_detect = 0
        self._emotion: EmotionEstimate | None = None
        self._emotion_gate = RateGate(self.cfg.emotion_hz) if self.cfg.emotion_hz > 0 else None
        self._closed_probs: tuple[float, ...] = ()  # the last frame's eye states
        self.still.reset()

    @property
    def track(self) -> Roi | None:
        """Where the next frame's landmarks will be looked for: None while no face is tracked."""
        return self._track

    def process(self, frame: Frame) -> FaceObservation:
        if not self._search_due(frame.t):
            return FaceObservation.absent(frame.t, frame.index)
        rec = self.timer.record
        gray, found = self.locate(frame)
        h, w = gray.shape[:2]
        if found is None:
            self._lose_face()
            if self._absent_since is None:
                self._absent_since = frame.t
            return FaceObservation.absent(frame.t, frame.index)
        self._absent_since = None
        result, box, detector_score = found
        pts = result.points

        t2 = time.perf_counter()
        pose = self.pose.from_landmarks(pts, w, h)
        size_px = float(max(box.width, box.height))
        quality = face_quality(result.presence, size_px, pose, self.cfg)
        ears = eye_aspect_ratio(pts, LEFT_EYE), eye_aspect_ratio(pts, RIGHT_EYE)
        mar = mouth_aspect_ratio(pts)
        t3 = time.perf_counter()
        rec("geometry", t3 - t2)

        eye_states = self.eyes.both(gray, pts)
        self._closed_probs = tuple(s.closed_prob for s in eye_states)
        t4 = time.perf_counter()
        rec("eyes", t4 - t3)

        if self.emotion is not None and self._emotion_gate is not None and self._emotion_gate.due(frame.t):
            # Too poor a face (small, turned away, doubtful landmarks) gives no estimate: "unknown", not a guess.
            if quality >= self.cfg.emotion_min_quality:
                self._emotion = self.emotion.classify(gray, pts, frame.t)
                rec("emotion", time.perf_counter() - t4)
            else:
                self._emotion = None
        return FaceObservation(
            t=frame.t,
            frame_index=frame.index,
            present=True,
            quality=quality,
            tracked=detector_score is None,
            detector_score=detector_score,
            landmark_score=round(result.presence, 4),
            box=box,
            face_size_px=size_px,
            pose=pose,
            ear_left=ears[0],
            ear_right=ears[1],
            mar=mar,
            landmarks=pts,
            eye_states=eye_states,
            emotion=self._emotion,
        )

    def locate(self, frame: Frame) -> tuple[np.ndarray, tuple[LandmarkResult, Box, float | None] | None]:
        """The gray frame and the driver's landmarks, their box and the detector's score (None when tracked): the
        work of MediaPipe's FaceMesh solution, which `tools/mediapipe_facemesh.py` times alone beside it."""
        t0 = time.perf_counter()
        gray = to_gray(frame.image)
        self.timer.record("preprocess", time.perf_counter() - t0)
        h, w = gray.shape[:2]
        found = self._find_face(gray, w, h)
        if found is not None:
            self._track = roi_from_landmarks(found[0].points)  # where to look in the next frame
        return gray, found

    def _search_due(self, t: float) -> bool:
        """Whether to look for the face in the frame at `t`: always, unless the seat has been empty for
        search_after_s; then on search_hz's grid, which starts at the first frame of the slow search."""
        if self._absent_since is None or t - self._absent_since < self.cfg.search_after_s:
            self._search_gate = None
            return True
        if self._search_gate is None:
            self._search_gate = RateGate(self.cfg.search_hz)
        return self._search_gate.due(t)

    def _find_face(self, gray: np.ndarray, w: int, h: int) -> tuple[LandmarkResult, Box, float | None] | None:
        """The driver's landmarks, their box, and the detector's score when the detector found the face in this
        frame (None when it came from the track)."""
        n = self.cfg.redetect_every_n_frames
        if self._track is not None:
            if n and self._frames_since_detect >= n:
                # Scheduled re-detection: re-anchor on the detector's driver face; if it finds none, the track
                # (still checked by FaceMesh's own presence score below) carries on.
                self._frames_since_detect = 0
                found = self._from_detection(gray, w, h)
                if found is not None:
                    return found
            found = self._still_landmarks(gray) if self.still.max_reuse else None
            if found is None:
                found = self._landmarks_in(gray, self._track, w, h)
            if found is not None:
                self._frames_since_detect += 1
                return found[0], found[1], None
            self._track = None
        return self._from_detection(gray, w, h)

    def _still_landmarks(self, gray: np.ndarray) -> tuple[LandmarkResult, Box] | None:
        """The last landmarks, when the head is still enough for them to stand (edge/vision/stillness.py)."""
        t0 = time.perf_counter()
        found = self.still.reuse(gray, self._closed_probs)
        self.timer.record("stillness", time.perf_counter() - t0)
        if found is not None:
            self.reused += 1
        return found

    def _from_detection(self, gray: np.ndarray, w: int, h: int) -> tuple[LandmarkResult, Box, float] | None:
        t0 = time.perf_counter()
        det = select_driver(self.detector.detect(gray), w, h, self.cfg.driver_region)
        self.timer.record("detect", time.perf_counter() - t0)
        if det is None:
            return None
        found = self._landmarks_in(gray, roi_from_detection(det), w, h)
        if found is None:
            return None
        self._frames_since_detect = 0
        return found[0], found[1], round(det.score, 4)

    def _landmarks_in(self, gray: np.ndarray, roi: Roi, w: int, h: int) -> tuple[LandmarkResult, Box] | None:
        """FaceMesh in the ROI; None unless it sees a face there and that face is in the driver region (a track
        can drift to a passenger leaning over; the region is checked on every frame, not only on detections)."""
        t0 = time.perf_counter()
        res = self.mesh.run(gray, roi)
        self.timer.record("landmarks", time.perf_counter() - t0)
        if res.presence < self.cfg.landmark_presence_threshold:
            return None
        box = landmark_box(res.points)
        if not in_region(box, w, h, self.cfg.driver_region):
            return None
        self.still.remember(gray, (res, box))
        return res, box
