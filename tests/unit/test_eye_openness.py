import math

import pytest

from edge.config import EyesConfig
from edge.monitor.eyes import EyeOpenness
from edge.types import EyeCropState, FaceObservation, HeadPose

OPEN_CROP = EyeCropState(closed_prob=0.05, contrast=25.0, saturated=0.0)


def obs(t=0.0, left=OPEN_CROP, right=OPEN_CROP, ear=(0.30, 0.30), yaw=0.0, quality=0.9, present=True, pitch=0.0):
    return FaceObservation(
        t=t, frame_index=0, present=present, quality=quality, pose=HeadPose(yaw, pitch, 0.0),
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


# -- covered: dark lenses ---------------------------------------------------------------------------------------
# A mirrored aviator lens: the crop has contrast (reflections) and the CNN an opinion, but the skin around the eye
# is as dark as the lens (surround ratio ~0.4 on the real sunglasses clip; bare eyes >= 0.52).
LENS = EyeCropState(closed_prob=0.45, contrast=25.0, saturated=0.0, surround=0.4)


def _run(eyes, frames, start=0.0, fps=30.0, **kw):
    return [eyes.step(obs(t=start + i / fps, **kw)) for i in range(frames)]


def test_dark_lenses_hide_both_eyes_with_a_reason_and_no_closed_probability():
    eyes = EyeOpenness(EyesConfig())
    reading = _run(eyes, 30, left=LENS, right=LENS)[-1]
    assert not reading.visible and reading.closed_prob is None
    assert (reading.status_left, reading.status_right, reading.reason) == ("dark_lenses",) * 3


def test_a_reflection_in_the_lens_for_a_few_frames_does_not_uncover_the_eyes():
    eyes = EyeOpenness(EyesConfig())
    _run(eyes, 30, left=LENS, right=LENS)
    bright = EyeCropState(0.45, 25.0, 0.0, surround=1.0)
    readings = _run(eyes, 3, start=1.0, left=bright, right=bright)
    assert not any(r.visible for r in readings)
    # Lenses off for good: visible again within about a second.
    readings = _run(eyes, 30, start=2.0, left=OPEN_CROP, right=OPEN_CROP)
    assert readings[-1].visible and readings[-1].reason is None


def test_one_eye_in_shadow_is_not_a_pair_of_lenses():
    eyes = EyeOpenness(EyesConfig())
    shadowed = EyeCropState(0.05, 25.0, 0.0, surround=0.45)
    reading = _run(eyes, 30, left=shadowed, right=OPEN_CROP)[-1]
    assert reading.visible and reading.status_left == "open"


def test_clear_glasses_and_bare_closed_eyes_stay_visible():
    eyes = EyeOpenness(EyesConfig())
    clear = EyeCropState(0.05, 25.0, 0.0, surround=0.75)  # the darkest clear-glasses clip's median
    assert _run(eyes, 30, left=clear, right=clear)[-1].status_left == "open"
    closed = EyeCropState(0.97, 20.0, 0.0, surround=0.8)  # a closed lid is skin: the surround stays bright
    reading = _run(eyes, 30, start=1.0, left=closed, right=closed, ear=(0.08, 0.08))[-1]
    assert reading.visible and reading.closed_prob > 0.9 and reading.status_left == "closed"


def test_an_unmeasured_surround_decides_nothing():
    eyes = EyeOpenness(EyesConfig())
    unknown = EyeCropState(0.05, 25.0, 0.0, surround=math.nan)
    assert _run(eyes, 30, left=unknown, right=unknown)[-1].visible


def test_the_reason_is_the_near_eyes_when_the_head_is_turned():
    eyes = EyeOpenness(EyesConfig())
    reading = _run(eyes, 30, left=LENS, right=LENS, yaw=50.0)[-1]
    assert reading.status_left == "turned_away" and reading.reason == "dark_lenses"


# -- downcast: eyes on the lap ----------------------------------------------------------------------------------
LOWERED_LIDS = EyeCropState(closed_prob=0.99, contrast=20.0, saturated=0.0)  # the CNN reads lowered lids as closed


def _learn_usual_pitch(eyes, cfg, pitch=0.0):
    _run(eyes, cfg.baseline_samples + 10, pitch=pitch)
    assert eyes.pitch_baseline == pytest.approx(pitch)


def test_lowered_lids_with_the_head_pitched_down_are_not_a_closure():
    cfg = EyesConfig()
    eyes = EyeOpenness(cfg)
    _learn_usual_pitch(eyes, cfg, pitch=8.0)  # a camera below the face: the usual pitch is not 0
    # FaceMesh's lid contour stays open (EAR at the baseline) while the CNN says closed.
    down = eyes.step(obs(t=10.0, left=LOWERED_LIDS, right=LOWERED_LIDS, pitch=8.0 - cfg.downcast_pitch_deg - 5))
    assert down.visible and down.closed_prob < 0.2
    assert down.status_left == down.status_right == "downcast"
    # The same crops at the usual pitch read closed, and a real closure with the head down (EAR falls) is one.
    level = eyes.step(obs(t=10.1, left=LOWERED_LIDS, right=LOWERED_LIDS, pitch=8.0))
    assert level.closed_prob > 0.5 and level.status_left != "downcast"
    # the status says closed exactly where the drowsiness monitor would start a closure
    assert (level.status_left == "closed") is (level.closed_left >= cfg.closed_threshold)
    # Eyes shut with the head down (the demo clip's end): the lids drop to ~0.68 of the open-eye EAR.
    asleep = eyes.step(obs(t=10.2, left=LOWERED_LIDS, right=LOWERED_LIDS, pitch=-20.0, ear=(0.20, 0.20)))
    assert asleep.closed_prob >= cfg.closed_threshold and asleep.status_left == "closed"


def test_the_usual_pitch_is_learned_only_from_open_eye_frames():
    cfg = EyesConfig()
    eyes = EyeOpenness(cfg)
    _run(eyes, cfg.baseline_samples * 2, left=LOWERED_LIDS, right=LOWERED_LIDS, pitch=-25.0)
    assert eyes.pitch_baseline == 0.0
