from pathlib import Path

import pytest

from edge.cli import main
from edge.config import Config, ConfigError, config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[2]


def _problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    return info.value.problems


def test_defaults_are_valid():
    cfg = Config()
    assert cfg.vision.detector_score_threshold == 0.5 and cfg.state.state_hz == 2.0


def test_unknown_key_is_named():
    assert _problems({"vision": {"detector_treshold": 0.4}}) == ["vision.detector_treshold: unknown key"]
    assert _problems({"cameras": {}}) == ["cameras: unknown key"]


def test_wrong_type_is_named_with_the_value():
    (problem,) = _problems({"camera": {"fps": "fast"}})
    assert problem.startswith("camera.fps: ") and "'fast'" in problem


def test_out_of_range_is_named():
    (problem,) = _problems({"vision": {"detector_score_threshold": 1.5}})
    assert problem == "vision.detector_score_threshold: 1.5 is above 1 (a share or a probability)"
    (problem,) = _problems({"vision": {"detector_score_threshold": -0.5}})  # lower limits keep pydantic's words
    assert problem.startswith("vision.detector_score_threshold: ") and "greater than or equal to 0" in problem


def test_every_error_is_reported_at_once():
    problems = _problems({"camera": {"fps": 0}, "state": {"state_hz": -1}, "bogus": 1})
    assert {p.split(":")[0] for p in problems} == {"camera.fps", "state.state_hz", "bogus"}


@pytest.mark.parametrize(
    "data, key",
    [
        ({"vision": {"emotion_hz": True}}, "vision.emotion_hz"),  # a bool is not a number
        ({"camera": {"fps": "30"}}, "camera.fps"),  # nor is a string
        ({"vision": {"redetect_every_n_frames": True}}, "vision.redetect_every_n_frames"),
        ({"camera": {"frame_timeout_s": float("inf")}}, "camera.frame_timeout_s"),
        ({"camera": {"reopen_initial_s": 1e10}}, "camera.reopen_initial_s"),
        ({"camera": {"frame_timeout_s": 0.001}}, "camera"),  # shorter than two frames at 30 fps
        ({"audio": {"device": True}}, "audio.device"),  # neither a name nor an index
        ({"audio": {"hop_s": 4.0}}, "audio"),  # longer than the 3 s segment: audio would go unanalysed
        ({"audio": {"ring_s": 3.5}}, "audio"),  # cannot hold a segment and a hop
        ({"audio": {"vad_aggressiveness": 4}}, "audio.vad_aggressiveness"),
        ({"physio": {"gsr_unit": "kohm"}}, "physio.gsr_unit"),
        ({"physio": {"window_s": 5.0}}, "physio.window_s"),  # too short for HRV
        ({"physio": {"hop_s": 0}}, "physio.hop_s"),
        ({"physio": {"hop_s": 30.0, "window_s": 20.0}}, "physio"),  # samples would go unanalysed
        ({"physio": {"min_ecg_quality": 1.5}}, "physio.min_ecg_quality"),
        ({"physio": {"grove_open_reading": 2048.0}}, "physio"),  # beyond the ADC's range
        ({"physio": {"stress_model": "yes"}}, "physio.stress_model"),
    ],
)
def test_strict_values(data, key):
    assert any(p.startswith(key) for p in _problems(data))


def test_audio_device_by_name_or_index():
    assert config_from_dict({"audio": {"device": "USB"}}).audio.device == "USB"
    assert config_from_dict({"audio": {"device": 2}}).audio.device == 2
    assert config_from_dict({}).audio.enabled is False  # privacy: audio only when asked for


def test_physio_defaults_and_a_bad_gsr_unit_names_its_key():
    physio = Config().physio
    assert (physio.window_s, physio.hop_s, physio.baseline_s) == (60.0, 5.0, 300.0)
    assert physio.gsr_unit == "grove" and physio.grove_full_scale == 1024 and physio.grove_open_reading == 512.0
    assert physio.min_ecg_quality == 0.3 and physio.stress_model is True
    (problem,) = _problems({"physio": {"gsr_unit": "uS"}})
    assert problem.startswith("physio.gsr_unit: ") and "'grove'" in problem and "'uS'" in problem
    assert config_from_dict({"physio": {"gsr_unit": "raw", "baseline_s": 120}}).physio.baseline_s == 120.0
    (problem,) = _problems({"physio": {"hop_s": 15.0, "window_s": 60.0}})  # fusion.physio_max_age_s is 10 s
    assert "physio.hop_s" in problem and "fusion.physio_max_age_s" in problem
    assert config_from_dict({"physio": {"hop_s": 15.0}, "fusion": {"physio_max_age_s": 20.0}}).physio.hop_s == 15.0


def test_camera_index_may_be_an_integer():
    assert config_from_dict({"camera": {"source": 0}}).camera.source == "0"
    assert config_from_dict({"camera": {"fps": 25}}).camera.fps == 25.0  # integers are fine for floats


def test_non_utf8_file_is_a_config_error(tmp_path):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('device_id = "caf\xe9"'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)


def test_cross_field_rules():
    assert any("driver_region" in p for p in _problems({"vision": {"driver_region": [0.5, 0, 0.2, 1]}}))
    assert any("reopen_max_s" in p for p in _problems({"camera": {"reopen_initial_s": 5, "reopen_max_s": 1}}))
    assert any("device_id" in p for p in _problems({"device_id": "car/1"}))  # would break the MQTT topic


def test_relative_models_dir_is_taken_from_the_config_folder(tmp_path):
    (tmp_path / "dms.toml").write_text('[runtime]\nmodels_dir = "m"\n')
    assert load_config(tmp_path / "dms.toml").runtime.models_dir == tmp_path / "m"


def test_toml_syntax_error_names_the_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera]\nfps = = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert "line 2" in info.value.problems[0]


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "none.toml")


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    load_config(path)


def test_documented_config_lists_every_key():
    """config/dms.toml documents every key (optional ones as `# key = example`); comparing it with the model
    catches a key added without docs, and the examples of optional keys must validate too."""
    import re

    from edge.config import tomllib

    text = re.sub(r"(?m)^# (\w+ = )", r"\1", (ROOT / "config" / "dms.toml").read_text())
    documented = tomllib.loads(text)
    config_from_dict(documented)

    def keys(d: dict, prefix="") -> set[str]:
        out = set()
        for k, v in d.items():
            out |= keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
        return out

    model = Config().model_dump(mode="json")
    assert keys(documented) == keys(model)


def test_check_command_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text('device_id = "car-7"\n[vision]\nemotion_hz = 2\n')
    assert main(["check", "--config", str(good)]) == 0
    assert "OK" in capsys.readouterr().out

    bad = tmp_path / "bad.toml"
    bad.write_text("[vision]\nmax_pose_deg = 120\nunknown = 1\n")
    assert main(["check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "vision.max_pose_deg" in err and "vision.unknown: unknown key" in err


def test_replay_refuses_bad_config_before_starting(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera]\nfps = -1\n")
    assert main(["replay", str(tmp_path / "missing.mp4"), "--config", str(bad)]) == 2
    assert "camera.fps" in capsys.readouterr().err


def test_check_warns_about_this_machine_without_failing(tmp_path, capsys):
    cfg = tmp_path / "pi.toml"
    cfg.write_text('[camera]\nsource = "/dev/video-that-is-not-here"\n[runtime]\nmodels_dir = "empty"\n')
    assert main(["check", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "warning: camera.source: /dev/video-that-is-not-here does not exist" in out
    assert "warning: models missing" in out and "face_landmark.tflite" in out


def test_overrides_merge_into_their_section_and_are_validated():
    from edge.config import with_overrides

    base = config_from_dict({"camera": {"fps": 25}})
    cfg = with_overrides(base, "--camera", {"camera": {"source": "/dev/video2"}, "device_id": "car-9"})
    assert cfg.camera.source == "/dev/video2" and cfg.camera.fps == 25.0 and cfg.device_id == "car-9"
    with pytest.raises(ConfigError) as info:
        with_overrides(base, "--threads", {"runtime": {"num_threads": 0}})
    assert info.value.source == "--threads" and info.value.problems[0].startswith("runtime.num_threads")


def test_alert_levels_has_one_key_per_alert_kind_in_order():
    from edge.config import AlertLevels
    from edge.names import ALERT_KINDS

    assert tuple(AlertLevels.model_fields) == ALERT_KINDS


def test_the_renamed_calibration_key_is_named_in_the_error():
    with pytest.raises(ConfigError, match="neutral_samples is now calibration_samples"):
        config_from_dict({"distraction": {"neutral_samples": 150}})
