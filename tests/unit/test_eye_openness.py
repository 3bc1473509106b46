import pytest

from edge.config import EyesConfig
from edge.monitor.eyes import EyeOpenness
from edge.types import EyeCropState, FaceObservation, HeadPose

OPEN_CROP = EyeCropState(closed_prob=0.05, contrast=25.0, saturated=0.0)


def obs(t=0.0, left=OPEN_CROP, right=OPEN_CROP, ear=(0.30, 0.30), yaw=0.0, quality=0.9, present=True):
    return FaceObservation(
        t=t, frame_index=0, present=present, quality=quality, pose=HeadPose(yaw, 0.0, 0.0),
        ear_left=ear[0], ear_right=ear[1], eye_states=(left, right),
    )


def test_open_eyes_read_open_and_closed_eyes_closed():
    eyes = EyeOpenness(EyesConfig())
    open_reading = eyes.step(obs())
    assert open_reading.visible and open_reading.closed_prob < 0.1
    closed = EyeCropState(0.97, 20.0, 0.0)
    reading = eyes.step(obs(left=closed, right=closed, ear=(0.08, 0.09)))
    assert reading.closed_prob > 0.9


def test_dark_glasses_glare_and_no_face_make_eyes_not_visible():
    eyes = EyeOpenness(EyesConfig())
    dark = EyeCropState(0.9, 2.0, 0.0)  # flat crop: the model's opinion must not count
    glare = EyeCropState(0.9, 40.0, 0.5)
    reading = eyes.step(obs(left=dark, right=glare, ear=(0.1, 0.1)))
    assert not reading.visible and reading.closed_prob is None
    assert eyes.step(obs(present=False)).closed_prob is None
    assert eyes.step(obs(quality=0.1)).closed_prob is None


def test_a_head_turn_hides_only_the_far_eye():
    eyes = EyeOpenness(EyesConfig())
    left_turn = eyes.step(obs(yaw=50.0))  # turning to the left takes the left eye away
    assert left_turn.closed_left is None and left_turn.closed_right is not None
    right_turn = eyes.step(obs(yaw=-50.0))
    assert right_turn.closed_right is None and right_turn.closed_left is not None
    assert eyes.step(obs(yaw=30.0)).closed_left is not None


def test_the_ear_cue_is_relative_to_the_drivers_own_baseline():
    """A driver whose open eyes give EAR 0.20 (narrow eyes, glasses) is not closed at 0.20 once learned."""
    cfg = EyesConfig()
    eyes = EyeOpenness(cfg)
    unsure = EyeCropState(0.5, 25.0, 0.0)  # the model cannot tell: the EAR cue decides
    before = eyes.step(obs(left=unsure, right=unsure, ear=(0.20, 0.20))).closed_prob
    for i in range(cfg.baseline_samples + 10):
        eyes.step(obs(t=i / 30, ear=(0.20, 0.20)))
    assert eyes.baseline(0) == pytest.approx(0.20) and eyes.baseline(1) == pytest.approx(0.20)
    after = eyes.step(obs(left=unsure, right=unsure, ear=(0.20, 0.20))).closed_prob
    assert after < before and after < 0.4


def test_only_confident_open_frames_teach_the_baseline():
    cfg = EyesConfig()
    eyes = EyeOpenness(cfg)
    closed = EyeCropState(0.9, 25.0, 0.0)
    for i in range(cfg.baseline_samples * 3):
        eyes.step(obs(t=i / 30, left=closed, right=closed, ear=(0.1, 0.1)))
        eyes.step(obs(t=i / 30, ear=(0.35, 0.35), yaw=35.0))  # a turned head: foreshortened, not learned
    assert eyes.baseline(0) == cfg.ear_default_baseline
