"""Lighting robustness: variants of a real video generated at test time keep the face and its eye openness."""

import cv2
import numpy as np
import pytest

from tests.conftest import run_pipeline


def _gamma(g: float):
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** g, 0, 255).astype(np.uint8)
    return lambda image: cv2.LUT(image, lut)


def _noise(sigma: float):
    rng = np.random.default_rng(15)
    return lambda image: np.clip(image + rng.normal(0.0, sigma, image.shape), 0, 255).astype(np.uint8)


VARIANTS = {
    "grayscale": lambda image: cv2.cvtColor(image, cv2.COLOR_BGR2GRAY),  # also covers 2-D frames
    # Skin is bright and flat in near-infrared much as in the red channel: the closest a colour clip gets to NIR.
    "red_channel_nir_like": lambda image: np.ascontiguousarray(image[:, :, 2]),
    "darkened_gamma_2.5": _gamma(2.5),
    "brightened_gamma_0.4": _gamma(0.4),
    "gaussian_noise_15": _noise(15.0),
}


def _found_and_median_ear(pipeline, images):
    obs = run_pipeline(pipeline, images)
    found = np.mean([o.present for o in obs])
    ear = np.median([(o.ear_left + o.ear_right) / 2 for o in obs if o.present])
    return found, ear


@pytest.fixture(scope="module")
def clean_ear(config, vision_models, wolfgang_frames):
    from edge.vision.pipeline import VisionPipeline

    return _found_and_median_ear(VisionPipeline(config.vision, vision_models), wolfgang_frames)[1]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_face_and_ear_survive_lighting(variant, pipeline, wolfgang_frames, clean_ear):
    images = [VARIANTS[variant](image) for image in wolfgang_frames]
    found, ear = _found_and_median_ear(pipeline, images)
    assert found >= 0.95, f"{variant}: face found in {found:.1%} of frames"
    assert ear == pytest.approx(clean_ear, rel=0.10), f"{variant}: median EAR {ear:.4f} against {clean_ear:.4f}"
