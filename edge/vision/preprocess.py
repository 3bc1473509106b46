"""NIR / harsh-light preprocessing: grayscale, CLAHE, replicated to three channels for the RGB models.

A NIR cabin camera gives gray frames anyway; turning colour cameras gray too makes one pipeline for both.
CLAHE is applied to each model's input crop rather than to the whole frame: it is cheaper (a 192 px crop
instead of a full frame) and the contrast it equalises is the face's, not the cabin's.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


class Normaliser:
    """Gray crop → contrast normalisation ("clahe", "equalize" or "none") → 3-channel uint8.
    One per worker thread: cv2's CLAHE object is not thread-safe."""

    def __init__(self, mode: str = "clahe", clip_limit: float = 2.0, tile_grid: int = 4):
        if mode == "clahe":
            self.gray = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tile_grid, tile_grid)).apply
        elif mode == "equalize":
            self.gray = cv2.equalizeHist
        elif mode == "none":
            self.gray = _identity
        else:
            raise ValueError(f"unknown normalisation {mode!r}")

    def rgb(self, crop: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(self.gray(crop), cv2.COLOR_GRAY2RGB)


def _identity(crop: np.ndarray) -> np.ndarray:
    return crop
