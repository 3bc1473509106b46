"""Frames that carry their own number in their pixels, so tests can check order and drops through a codec."""

from __future__ import annotations

import numpy as np

W, H, BITS, CELL = 128, 32, 8, 16


def draw_number(n: int) -> np.ndarray:
    """A frame whose top row of 16 px cells spells n in binary (white = 1): robust to JPEG."""
    image = np.zeros((H, W, 3), np.uint8)
    for bit in range(BITS):
        if n >> bit & 1:
            image[:CELL, bit * CELL : (bit + 1) * CELL] = 255
    return image


def read_number(image: np.ndarray) -> int:
    gray = image if image.ndim == 2 else image.mean(axis=2)
    return sum(1 << bit for bit in range(BITS) if gray[4:12, bit * CELL + 4 : bit * CELL + 12].mean() > 128)
