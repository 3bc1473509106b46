import numpy as np
import pytest

from edge.vision.face_detector import INPUT_SIZE, anchors, decode, iou, letterbox_matrix, weighted_nms


def test_anchor_grid_matches_mediapipe_short_range():
    a = anchors()
    assert a.shape == (896, 2)
    # 16x16 grid, two anchors per cell, row-major: the first cell's centre twice, then the next cell's.
    np.testing.assert_allclose(a[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[32], [0.5 / 16, 1.5 / 16])  # second row starts after 16 cells x 2
    # then the 8x8 grid with six anchors per cell
    np.testing.assert_allclose(a[512:518], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    np.testing.assert_allclose(a[-1], [7.5 / 8, 7.5 / 8])


def _raw_face(anchor_index: int, cx: float, cy: float, w: float, h: float):
    """Regressors placing a face at (cx, cy, w, h) normalised, through the given anchor."""
    reg = np.zeros((896, 16), np.float32)
    logits = np.full((896, 1), -10.0, np.float32)
    ax, ay = anchors()[anchor_index]
    reg[anchor_index, 0:4] = [(cx - ax) * INPUT_SIZE, (cy - ay) * INPUT_SIZE, w * INPUT_SIZE, h * INPUT_SIZE]
    for k in range(6):
        reg[anchor_index, 4 + 2 * k : 6 + 2 * k] = [(cx - ax + 0.01 * k) * INPUT_SIZE, (cy - ay) * INPUT_SIZE]
    logits[anchor_index] = 3.0
    return reg, logits


def test_decode_recovers_box_keypoints_and_score():
    reg, logits = _raw_face(600, cx=0.4, cy=0.55, w=0.3, h=0.25)
    boxes, kps, scores = decode(reg, logits, threshold=0.5)
    assert boxes.shape == (1, 4)
    np.testing.assert_allclose(boxes[0], [0.25, 0.425, 0.55, 0.675], atol=1e-5)
    np.testing.assert_allclose(kps[0, 3], [0.43, 0.55], atol=1e-5)
    assert scores[0] == pytest.approx(1 / (1 + np.exp(-3.0)))


def test_decode_threshold_and_extreme_logits():
    reg, logits = _raw_face(10, 0.1, 0.1, 0.1, 0.1)
    logits[10] = 1e6  # clipped, no overflow
    logits[11] = -0.1  # sigmoid 0.475 < 0.5
    boxes, _, scores = decode(reg, logits, threshold=0.5)
    assert len(scores) == 1 and scores[0] == pytest.approx(1.0)


def test_iou():
    box = np.array([0, 0, 2, 2], float)
    others = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [5, 5, 6, 6]], float)
    np.testing.assert_allclose(iou(box, others), [1.0, 1 / 7, 0.0])


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0.10, 0.10, 0.30, 0.30], [0.12, 0.10, 0.32, 0.30], [0.60, 0.60, 0.80, 0.80]], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    kps[:, :, 0] = boxes[:, [0]]
    scores = np.array([0.9, 0.3, 0.8], np.float32)
    out = weighted_nms(boxes, kps, scores, iou_threshold=0.3)
    assert len(out) == 2
    merged, merged_kps, score = out[0]
    assert score == pytest.approx(0.9)  # the cluster keeps its best score
    np.testing.assert_allclose(merged[0], (0.10 * 0.9 + 0.12 * 0.3) / 1.2, atol=1e-6)  # score-weighted mean
    np.testing.assert_allclose(merged_kps[0, 0], merged[0], atol=1e-6)
    np.testing.assert_allclose(out[1][0], boxes[2])


def test_letterbox_keeps_aspect_and_centres():
    m = letterbox_matrix(640, 360)
    corners = np.array([[0, 0, 1], [640, 360, 1]], float) @ m.T
    np.testing.assert_allclose(corners, [[0, 28], [128, 100]])


def test_weighted_nms_survives_degenerate_boxes():
    """A zero-width or NaN box overlaps nothing, not even itself; it must not stall the merge loop."""
    boxes = np.array([[0.1, 0.1, 0.1, 0.3], [0.2, 0.2, 0.4, 0.4], [np.nan, 0, 1, 1], [0.5, 0.5, 0.4, 0.6]], np.float32)
    kps = np.zeros((4, 6, 2), np.float32)
    scores = np.array([0.99, 0.8, 0.9, 0.7], np.float32)
    out = weighted_nms(boxes, kps, scores, iou_threshold=0.3)
    assert len(out) == 1
    np.testing.assert_allclose(out[0][0], boxes[1])
    assert weighted_nms(boxes[[0]], kps[[0]], scores[[0]], 0.3) == []
