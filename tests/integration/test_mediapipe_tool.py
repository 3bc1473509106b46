"""tools/mediapipe_facemesh.py on the demo clip: both sides timed in turns, on the same frames. The comparison runs
only where `make mediapipe-venv` has built .venv-mediapipe (CI does not: MediaPipe 0.10.14 needs numpy < 2)."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MEDIAPIPE_PYTHON = ROOT / ".venv-mediapipe" / "bin" / "python"

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.skipif(not MEDIAPIPE_PYTHON.exists(), reason="no .venv-mediapipe (make mediapipe-venv)")
def test_mediapipe_and_the_project_are_timed_on_the_same_frames(tmp_path):
    def ours() -> set[str]:
        return {p.name for p in Path(tempfile.gettempdir()).glob("dms-mediapipe-*")}

    before = ours()
    out = tmp_path / "mediapipe.json"
    proc = subprocess.run([sys.executable, "tools/mediapipe_facemesh.py", "--max-frames", "20", "--passes", "2",
                           "--sizes", "640x360,1280x720", "--json", str(out)],
                          capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["mediapipe"]["mediapipe"] == "0.10.14" and result["mediapipe"]["numpy"].startswith("1.")
    assert result["frames"] == 20 and result["timing"] == "process CPU time per frame"
    assert [r["frame_size"] for r in result["sizes"]] == [[640, 360], [1280, 720]]
    for row in result["sizes"]:
        assert len(row["project_passes"]) == len(row["mediapipe_passes"]) == 2
        assert row["ratio"] == pytest.approx(row["project_cpu_ms_per_frame"] / row["mediapipe_cpu_ms_per_frame"],
                                             abs=2e-3)
        assert row["project_face_found_pct"] == row["mediapipe_face_found_pct"] == 100.0  # the presenter, throughout
        assert len(row["project_landmarks_passes"]) == 2  # our landmarks alone, like for like, in the same turns
        assert row["landmarks_ratio"] == pytest.approx(
            row["project_landmarks_cpu_ms_per_frame"] / row["mediapipe_cpu_ms_per_frame"], abs=2e-3)
    assert "ratio" in proc.stdout and result["frames_kind"] == "colour"
    assert ours() == before  # the frames' temporary folder is gone


@pytest.mark.skipif(not MEDIAPIPE_PYTHON.exists(), reason="no .venv-mediapipe (make mediapipe-venv)")
def test_mono_frames_reach_both_sides(tmp_path):
    """A NIR camera's gray frames: the project takes them as they are, MediaPipe as RGB; both find the presenter."""
    out = tmp_path / "mediapipe.json"
    proc = subprocess.run([sys.executable, "tools/mediapipe_facemesh.py", "--max-frames", "20", "--passes", "1",
                           "--mono", "--json", str(out)], capture_output=True, text=True, cwd=ROOT, env=ENV,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["frames_kind"] == "mono" and "20 mono frames" in proc.stdout
    row = result["sizes"][0]
    assert row["project_face_found_pct"] == row["mediapipe_face_found_pct"] == 100.0


def test_a_missing_mediapipe_venv_is_reported(tmp_path):
    proc = subprocess.run([sys.executable, "tools/mediapipe_facemesh.py", "--mediapipe-python",
                           str(tmp_path / "none" / "python")], capture_output=True, text=True, cwd=ROOT,
                          env=ENV)
    assert proc.returncode == 2 and "make mediapipe-venv" in proc.stderr
