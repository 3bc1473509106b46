"""NIR / harsh-light preprocessing: grayscale, CLAHE, replicated to three channels for the RGB models.

A NIR cabin camera gives gray frames anyway; turning colour cameras gray too makes one pipeline for both.
CLAHE is applied to each model's input crop rather than to the whole frame: it is cheaper (a 192 px crop
instead of a full frame) and the contrast it equalises is the face's, not the cabin's.
"""

from __future__ import annotations

import cv2
import numpy as np

_TO_GRAY = {3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit gray from what cameras deliver: gray, BGR or BGRA (GStreamer appsinks), in 8 or 16 bits.
    16-bit NIR frames hold 10-16 significant bits, in the low bits or the high ones depending on the driver: the
    shift is taken from the frame's own highest set bit, so either layout keeps its full 8-bit range."""
    if image.dtype == np.uint16:
        shift = max(0, int(image.max()).bit_length() - 8)
        image = (image >> shift).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported frame dtype {image.dtype}; expected uint8 or uint16")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in _TO_GRAY:
        return cv2.cvtColor(image, _TO_GRAY[image.shape[2]])
    raise ValueError(f"unsupported frame shape {image.shape}; expected HxW, HxWx1, HxWx3 (BGR) or HxWx4 (BGRA)")


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
