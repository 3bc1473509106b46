"""`dms eval` on the labelled real clips of ../shared/datasets/realclips (about 30 s for the whole folder on two
shared cores, so the folder is replayed once for the module), on a RUN.jsonl, and on bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REALCLIPS = Path(os.environ.get("DMS_DATASETS", ROOT.parent / "shared" / "datasets")) / "realclips"
LABELS = REALCLIPS / "labels.json"
pytestmark = pytest.mark.skipif(not LABELS.is_file(), reason=f"realclips not found at {REALCLIPS}")
KINDS = ("eyes_closed", "yawn", "looking_away", "looking_away_judged", "looking_away_2s", "face_absent")


def dms(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "eval.json"
    proc = dms("eval", str(REALCLIPS), "--labels", str(LABELS), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(proc.stdout.strip().splitlines()[-1]), json.loads(out.read_text())


def test_the_folder_scores_every_labelled_clip_and_the_totals_add_up(folder):
    proc, result, written = folder
    assert result["clips"] == written["clips"] and result["totals"] == written["totals"]
    labelled = [e["clip"] for e in json.loads(LABELS.read_text())]
    assert [c["clip"] for c in result["clips"]] == labelled
    totals = result["totals"]
    for kind in KINDS:
        per_clip = [c["kinds"][kind] for c in result["clips"]]
        for key in ("labels", "found", "detections", "true_detections"):
            assert totals["kinds"][kind][key] == sum(k[key] for k in per_clip), (kind, key)
    assert totals["alerts"] == sum(len(c["alerts"]) for c in result["clips"])
    assert totals["false_alerts"] == len(totals["false_alert_list"]) == sum(c["false_alerts"] for c in result["clips"])
    assert totals["false_alerts"] == sum(totals[f"{lv}_false"] for lv in ("critical", "warning", "advisory"))
    # every replayed clip has all its frames, a face nearly throughout, and the road-ahead pose calibrated after
    # its ~10 s of confident frames, or not at all in a clip too short for it
    for c in result["clips"]:
        assert c["source"] == "replay" and c["limits"] == [] and c["face_found_pct"] > 90
        assert c["pose_calibrated_at"] is None or 10.0 <= c["pose_calibrated_at"] <= c["duration_s"]
    # the labels are in reach of the product: most eye closures and yawns are found
    assert totals["kinds"]["eyes_closed"]["recall"] >= 0.5 and totals["kinds"]["yawn"]["recall"] >= 0.5


@pytest.fixture(scope="module")
def mounted():
    """The folder again, each clip with the camera mount its labels describe (tools/realclips)."""
    proc = dms("eval", str(REALCLIPS), "--labels", str(LABELS), "--config-dir", str(ROOT / "tools" / "realclips"))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_false_critical_alert_on_real_drivers_with_or_without_the_mount(folder, mounted):
    """The worst defect this product can have: a critical alert that no labelled event explains."""
    _, plain, _ = folder
    for result in (plain, mounted):
        assert result["totals"]["critical_false"] == 0, result["totals"]["false_alert_list"]
    assert set(mounted["configs"]) == {e["clip"] for e in json.loads(LABELS.read_text())}


def test_yawns_of_real_drivers_are_found_and_speech_is_not_a_yawn(folder):
    _, result, _ = folder
    yawn = result["totals"]["kinds"]["yawn"]
    assert yawn["recall"] >= 0.9 and yawn["false_detections"] <= 1, yawn
    assert all(c["false_alerts_during_talking"] == 0 for c in result["clips"])


def test_with_a_mount_head_pose_is_judged_from_the_first_frame(mounted):
    for clip in mounted["clips"]:
        assert clip["pose_judged_from"] == 0.0, clip["clip"]


def test_the_table_shows_each_clip_the_totals_and_every_false_alert(folder):
    proc, result, _ = folder
    table = proc.stdout
    for c in result["clips"]:
        assert c["clip"][:32] in table
    for kind in KINDS:
        assert any(line.startswith("TOTAL") and f" {kind} " in line for line in table.splitlines())
    assert f"alerts: {result['totals']['alerts']} raised, {result['totals']['false_alerts']} outside" in table
    false_lines = [line for line in table.splitlines() if line.strip().startswith("FALSE ")]
    assert len(false_lines) == result["totals"]["false_alerts"]
    # critical first
    levels = [a["max_level"] for a in result["totals"]["false_alert_list"]]
    assert levels == sorted(levels, key=("critical", "warning", "advisory").index)


def test_a_run_jsonl_is_scored_like_its_replay(folder, tmp_path):
    _, result, _ = folder
    run = tmp_path / "selfie_m_eyes_closed.jsonl"
    proc = dms("replay", str(REALCLIPS / "selfie_m_eyes_closed.mp4"), "--jsonl", str(run), "--quiet")
    assert proc.returncode == 0, proc.stderr
    proc = dms("eval", str(run), "--labels", str(LABELS))  # the clip found by the file's stem
    assert proc.returncode == 0, proc.stderr
    clip = json.loads(proc.stdout.strip().splitlines()[-1])["clips"][0]
    replayed = next(c for c in result["clips"] if c["clip"] == "selfie_m_eyes_closed.mp4")
    assert clip["source"] == "jsonl" and clip["limits"]
    assert clip["kinds"]["eyes_closed"]["found"] == replayed["kinds"]["eyes_closed"]["found"]
    assert [a["kind"] for a in clip["alerts"]] == [a["kind"] for a in replayed["alerts"]]


def test_a_per_clip_config_is_used_for_its_clip(tmp_path):
    (tmp_path / "selfie_m_eyes_closed.toml").write_text("[drowsiness]\nmicrosleep_s = 2.6\n")
    proc = dms("eval", str(REALCLIPS), "--clip", "selfie_m_eyes_closed.mp4", "--labels", str(LABELS),
               "--config-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["configs"] == {"selfie_m_eyes_closed.mp4": str(tmp_path / "selfie_m_eyes_closed.toml")}
    assert [a["kind"] for a in result["clips"][0]["alerts"]] == ["microsleep"]  # only the 2.8 s closure


def test_bad_input_exits_2_with_a_clear_message(tmp_path):
    proc = dms("eval", str(tmp_path / "none.mp4"), "--labels", str(LABELS))
    assert proc.returncode == 2 and "no such file" in proc.stderr
    other = tmp_path / "other.mp4"
    other.write_bytes(b"")
    proc = dms("eval", str(other), "--labels", str(LABELS))
    assert proc.returncode == 2 and "other.mp4: not in" in proc.stderr
    bad = tmp_path / "labels.json"
    bad.write_text(json.dumps([{"clip": "x.mp4", "fps": 30, "frames": 10,
                                "events": [{"kind": "yawn", "start_frame": 3, "end_frame": 12}]}]))
    proc = dms("eval", str(tmp_path), "--labels", str(bad))
    assert proc.returncode == 2 and "entry 0 (x.mp4): event 0 (yawn)" in proc.stderr
    bad.write_text(json.dumps([{"clip": "x.mp4", "fps": 30, "frames": 10, "events": []}]))
    proc = dms("eval", str(tmp_path), "--labels", str(bad))
    assert proc.returncode == 2 and "missing labelled clip(s): x.mp4" in proc.stderr
