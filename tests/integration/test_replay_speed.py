"""`dms replay --speed-csv` on a real clip: the speed section follows the log in step with the video, a malformed
line is skipped and reported at the end (the replay goes on, exit status 3), and standing still does not silence eye
closures."""

from __future__ import annotations

import jsonschema
import pytest

from tests.integration.test_replay_cli import STATE_SCHEMA, dms, read_jsonl

pytestmark = pytest.mark.media


def test_replay_with_a_speed_log_beside_a_real_clip(clip, tmp_path):
    log = tmp_path / "can.csv"
    # standing for the first 10 s, then 60 km/h; one garbled line from the logger
    rows = [f"{t / 2},{0.0 if t < 20 else 60.0}" for t in range(40)]
    log.write_text("t_s,speed_kmh\n" + "\n".join(rows[:5] + ["2.6,6O"] + rows[5:]) + "\n")
    out = tmp_path / "out.jsonl"
    proc = dms("replay", str(clip("WolfgangLanger_Pexels.mp4")), "--speed-csv", str(log), "--jsonl", str(out),
               "--quiet")
    assert proc.returncode == 3, proc.stderr
    assert f"skipped {log}: 1 malformed line, the first at 2.0 s (line 7: not a number ('2.6,6O'))" in proc.stderr
    states = read_jsonl(out)
    for m in states:
        jsonschema.validate(m["payload"], STATE_SCHEMA)
    speed = {m["payload"]["t"]: m["payload"]["speed"] for m in states}

    def at(t: float) -> dict:
        return speed[min(speed, key=lambda s: abs(s - t))]

    assert at(5.0)["motion"] == "standing" and at(5.0)["speed_kmh"] == 0.0
    assert at(15.0)["motion"] == "moving" and at(15.0)["speed_kmh"] == 60.0
    assert all(s["source"] == "recording" for s in speed.values())
    # the clip's closures are raised while standing still: eyes shut are dangerous at any speed
    starts = [m["payload"]["kind"] for m in read_jsonl(out, "events") if m["payload"]["type"] == "start"]
    assert starts[:2] == ["microsleep", "sleep"]


@pytest.mark.parametrize("kmh, distracted", [(60.0, True), (0.0, False)])
def test_standing_still_silences_the_long_distraction_of_a_real_clip(clip, tmp_path, kmh, distracted):
    """The clip's driver turns his head ~30 deg to his right for 3.5 s (at 5-8.5 s); with the camera mounted 5 deg
    to his right that is off the road. Moving, it is a long distraction; standing still, nothing but his closures."""
    config = tmp_path / "dms.toml"
    config.write_text("[camera.mount]\nyaw_deg = 5.0\npitch_deg = 0.0\n")
    log = tmp_path / "speed.csv"
    log.write_text("t_s,speed_kmh\n" + "".join(f"{t / 2},{kmh}\n" for t in range(45)))
    out = tmp_path / "out.jsonl"
    proc = dms("replay", str(clip("WolfgangLanger_Pexels.mp4")), "--config", str(config), "--speed-csv", str(log),
               "--jsonl", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    starts = [m["payload"]["kind"] for m in read_jsonl(out, "events") if m["payload"]["type"] == "start"]
    assert ("long_distraction" in starts) is distracted
    assert starts.count("microsleep") == 3 and "sleep" in starts
