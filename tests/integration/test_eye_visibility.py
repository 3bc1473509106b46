"""Visible, covered or closed, on real faces: sunglasses painted onto the repo's own demo clip (the cue on real
skin and real landmarks), and the real drivers of ../shared/datasets/realclips when present."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import Config
from edge.monitor.eyes import EyeOpenness
from edge.types import Frame
from edge.vision.eyes import surrounds
from edge.vision.pipeline import VisionPipeline

ROOT = Path(__file__).resolve().parents[2]
REALCLIPS = Path(os.environ.get("DMS_DATASETS", ROOT.parent / "shared" / "datasets")) / "realclips"
FPS = 24.0
# FaceMesh's eye contours (the lids), to paint a closed eye over.
RIGHT_CONTOUR = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_CONTOUR = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)


def _lenses(image: np.ndarray, points: np.ndarray, seed: int) -> np.ndarray:
    """Dark lenses with a reflection streak: an ellipse per eye from the brow to the cheekbone, dark gray with
    texture, so the crop keeps its contrast (as mirrored lenses do) and only the darkness around the eye tells."""
    out = image.copy()
    rng = np.random.default_rng(seed)
    for outer, inner in ((33, 133), (362, 263)):
        a, b = points[outer, :2], points[inner, :2]
        width = float(np.hypot(*(b - a)))
        centre = tuple(int(v) for v in (a + b) / 2)
        angle = float(np.degrees(np.arctan2(*(b - a)[::-1])))
        axes = (int(0.95 * width), int(0.75 * width))
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.ellipse(mask, centre, axes, angle, 0, 360, 255, -1)
        lens = rng.normal(45, 12, image.shape[:2]).clip(0, 255)
        cv2.line(lens, (centre[0] - axes[0], centre[1] + axes[1] // 2), (centre[0] + axes[0], centre[1] - axes[1]),
                 140, max(2, axes[1] // 4))  # a reflection across the lens
        out[mask > 0] = lens[mask > 0, None].astype(np.uint8)
    return out


def _closed_lids(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The eye opening painted over with the skin just below it: a closed lid is skin."""
    out = image.copy()
    for contour, below in ((RIGHT_CONTOUR, 230), (LEFT_CONTOUR, 450)):
        x, y = (int(v) for v in points[below, :2])
        skin = image[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(axis=0)
        cv2.fillPoly(out, [points[list(contour), :2].astype(np.int32)], tuple(float(v) for v in skin))
    return out


@pytest.fixture(scope="module")
def clean(vision_models, wolfgang_frames):
    """The first 48 frames (2 s) and their observations, unpainted."""
    pipeline = VisionPipeline(Config().vision, vision_models)
    images = wolfgang_frames[:48]
    return images, [pipeline.process(Frame(image, i / FPS, i)) for i, image in enumerate(images)]


def test_the_skin_around_bare_eyes_is_bright_and_around_lenses_dark(clean):
    images, observations = clean
    bare, lens, closed = [], [], []
    for i, (image, obs) in enumerate(zip(images[::4], observations[::4])):
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        bare.append(surrounds(gray, obs.landmarks))
        lens.append(surrounds(cv2.cvtColor(_lenses(image, obs.landmarks, i), cv2.COLOR_BGR2GRAY), obs.landmarks))
        closed.append(surrounds(cv2.cvtColor(_closed_lids(image, obs.landmarks), cv2.COLOR_BGR2GRAY), obs.landmarks))
    threshold = Config().eyes.max_lens_surround
    assert np.min(bare) > threshold + 0.1, bare
    # A reflection streak can light one patch in one frame (the monitor smooths over lens_smoothing_s for that).
    assert np.median(lens) < threshold - 0.1 and np.mean(np.mean(lens, axis=1) < threshold) >= 0.9, lens
    assert np.min(closed) > threshold + 0.1, closed  # a closed eye is not a lens


def test_painted_sunglasses_hide_the_eyes_end_to_end(vision_models, clean):
    images, observations = clean
    cfg = Config()
    pipeline = VisionPipeline(cfg.vision, vision_models)
    painted = [_lenses(image, obs.landmarks, i) for i, (image, obs) in enumerate(zip(images, observations))]
    worn = [pipeline.process(Frame(image, i / FPS, i)) for i, image in enumerate(painted)]
    assert np.mean([o.present for o in worn]) > 0.95  # the face is still found behind the lenses
    bare_eyes, lens_eyes = EyeOpenness(cfg.eyes), EyeOpenness(cfg.eyes)
    bare = [bare_eyes.step(o) for o in observations]
    covered = [lens_eyes.step(o) for o in worn]
    assert np.mean([r.visible for r in bare]) > 0.95
    hidden = [r for r in covered[12:] if not r.visible]  # after the first half second of smoothing
    assert len(hidden) >= 0.9 * len(covered[12:])
    assert {r.reason for r in hidden} == {"dark_lenses"}


@pytest.mark.skipif(not REALCLIPS.is_dir(), reason=f"realclips not found at {REALCLIPS} (set DMS_DATASETS)")
def test_real_drivers_sunglasses_downward_glances_and_closures():
    clips = ["yawdd_dash_f11_sunglasses.avi", "incar_day_eating.mp4", "selfie_m_eyes_closed.mp4",
             "nitymed_night_f_yawns.mp4"]
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "eye_visibility_clips.py"), "--data", str(REALCLIPS),
                           "--clips", *clips], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])["clips"]
    sunglasses = result["yawdd_dash_f11_sunglasses.avi"]["after"]
    assert sunglasses["visible_pct"] <= 30.0 and sunglasses["false_closures"] == []
    assert result["yawdd_dash_f11_sunglasses.avi"]["before"]["visible_pct"] > 90.0  # what the cue fixes
    assert result["incar_day_eating.mp4"]["after"]["false_closures"] == []  # looking down at food
    assert result["incar_day_eating.mp4"]["after"]["visible_pct"] > 90.0
    for name in ("selfie_m_eyes_closed.mp4", "nitymed_night_f_yawns.mp4"):
        closures = result[name]["after"]
        assert closures["found"] == closures["labelled"] and closures["false_closures"] == [], name
