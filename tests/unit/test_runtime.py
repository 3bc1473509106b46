import numpy as np
import pytest

from edge.config import Config
from edge.models import load_manifest, model_path
from edge.runtime import Model, RuntimeUnavailable, _feed, _fetch, interpreter_class

MODELS = Config().runtime.models_dir


def test_int8_quantisation_round_trip():
    detail = {"dtype": np.int8, "quantization": (0.05, -3)}
    x = np.array([-10.0, -1.0, 0.0, 0.52, 10.0], np.float32)
    q = _feed(detail)(x)
    assert q.dtype == np.int8 and q.tolist() == [-128, -23, -3, 7, 127]  # clipped at both ends
    np.testing.assert_allclose(_fetch(detail)(q), [-6.25, -1.0, 0.0, 0.5, 6.5])


def test_float_models_pass_values_through():
    detail = {"dtype": np.float32, "quantization": (0.0, 0)}
    x = np.arange(3, dtype=np.float64)
    assert _feed(detail)(x).dtype == np.float32
    y = np.arange(3, dtype=np.float32)
    assert _fetch(detail)(y) is y  # get_tensor() already returned a copy: no second one


def test_unknown_backend_is_refused():
    with pytest.raises(RuntimeUnavailable, match="unknown runtime backend"):
        interpreter_class("onnx")


def test_model_specs_match_the_manifest():
    """Every fetched model loads and has the input shape its manifest entry states."""
    for entry in load_manifest().values():
        model = Model(model_path(entry.name, MODELS))
        shape = "x".join(str(s) for s in model.inputs[0].shape)
        assert entry.input.startswith(shape), f"{entry.name}: input {shape}, manifest says {entry.input!r}"
        assert model.backend in ("litert", "tflite-runtime")


def test_landmark_model_runs_and_returns_468_points():
    model = Model(model_path("face_landmarks", MODELS))
    mesh, presence = model.run(np.zeros((1, 192, 192, 3), np.float32))
    assert mesh.size == 468 * 3 and presence.size == 1


def test_an_input_filled_in_place_gives_what_run_gives(wolfgang_frames):
    """run_filled writes into the interpreter's own input buffer; the outputs are those of run() on that input."""
    import cv2

    model = Model(model_path("face_landmarks", MODELS))
    face = cv2.resize(wolfgang_frames[200][40:320, 180:460], (192, 192)).astype(np.float32) / 255.0

    def fill(x: np.ndarray) -> None:
        x[0] = face

    for filled, copied in zip(model.run_filled(fill), model.run(face[None])):
        np.testing.assert_array_equal(filled, copied)
    with pytest.raises(ValueError, match="one float input"):
        Model(model_path("eye_state", MODELS)).run_filled(fill)  # an int8 input cannot be filled with floats


def test_wrong_input_count_and_missing_file_are_clear(tmp_path):
    model = Model(model_path("emotion_fer", MODELS))
    with pytest.raises(ValueError, match="takes 1 inputs, got 2"):
        model.run(np.zeros((1, 64, 64, 1)), np.zeros(1))
    with pytest.raises(FileNotFoundError, match="dms models fetch"):
        Model(tmp_path / "none.tflite")


def test_builtin_kernels_agree_with_xnnpack_within_float_rounding(wolfgang_frames):
    """litert-builtin (TFLite's own kernels, no XNNPACK) is chosen only by name and computes the same landmarks."""
    import cv2

    assert interpreter_class()[0] != "litert-builtin"
    face = cv2.resize(wolfgang_frames[200][40:320, 180:460], (192, 192))[None].astype(np.float32) / 255.0
    xnnpack = Model(model_path("face_landmarks", MODELS), backend="litert")
    builtin = Model(model_path("face_landmarks", MODELS), backend="litert-builtin")
    assert builtin.backend == "litert-builtin"
    (mesh_x, presence_x), (mesh_b, presence_b) = xnnpack.run(face), builtin.run(face)
    np.testing.assert_allclose(mesh_b, mesh_x, atol=0.05)  # px of the 192 px crop
    np.testing.assert_allclose(presence_b, presence_x, atol=1e-3)
