import cv2
import numpy as np
import pytest

from edge.vision.preprocess import Normaliser, to_gray

BGR = np.dstack([np.full((4, 6), v, np.uint8) for v in (10, 120, 240)])
GRAY = cv2.cvtColor(BGR, cv2.COLOR_BGR2GRAY)


@pytest.mark.parametrize(
    "image",
    [GRAY, GRAY[:, :, None], BGR, cv2.cvtColor(BGR, cv2.COLOR_BGR2BGRA)],
    ids=["gray", "gray-1ch", "bgr", "bgra"],
)
def test_camera_layouts_give_the_same_gray(image):
    out = to_gray(image)
    assert out.dtype == np.uint8 and out.shape == (4, 6)
    np.testing.assert_array_equal(out, GRAY)


@pytest.mark.parametrize("bits", [10, 12, 16])
def test_16_bit_frames_keep_their_range(bits):
    ramp = np.linspace(0, 2**bits - 1, 24).astype(np.uint16).reshape(4, 6)
    out = to_gray(ramp)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255


def test_unusable_frames_are_named():
    with pytest.raises(ValueError, match="dtype float32"):
        to_gray(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="shape"):
        to_gray(np.zeros((4, 4, 2), np.uint8))


@pytest.mark.parametrize("mode", ["clahe", "equalize", "none"])
def test_normaliser_gives_three_equal_channels(mode):
    rng = np.random.default_rng(0)
    crop = (rng.random((192, 192)) * 80 + 40).astype(np.uint8)  # a dull, low-contrast crop
    rgb = Normaliser(mode).rgb(crop)
    assert rgb.shape == (192, 192, 3)
    assert np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 1], rgb[:, :, 2])
    spread = int(rgb.max()) - int(rgb.min())
    assert spread > 100 if mode != "none" else spread < 81  # normalisation stretches the contrast


def test_unknown_normalisation_is_refused():
    with pytest.raises(ValueError, match="unknown normalisation"):
        Normaliser("sharpen")
