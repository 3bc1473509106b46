"""tools/eval_eyes.py on a folder laid out like MRL eyes (real crops from ../shared/datasets when present)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATASETS = Path(os.environ.get("DMS_DATASETS", ROOT.parent / "shared" / "datasets"))
MRL = DATASETS / "mrl_eyes"


def eval_eyes(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "eval_eyes.py"), *args], capture_output=True, text=True)


@pytest.mark.skipif(not MRL.is_dir(), reason=f"MRL eyes not found at {MRL} (set DMS_DATASETS)")
def test_eval_prints_the_metrics_as_its_last_line(tmp_path):
    # 25 crops per class from two subjects, copied into the same layout (.png kept)
    for cls in ("open", "closed"):
        (tmp_path / cls).mkdir()
        for path in sorted((MRL / cls).glob("s0001_*"))[:25]:
            shutil.copy(path, tmp_path / cls / path.name)
    proc = eval_eyes("--data", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("accuracy", "recall_open", "recall_closed", "per_condition", "ms_per_eye", "confusion"):
        assert key in metrics
    assert metrics["n"] == 50 and 0.0 <= metrics["accuracy"] <= 1.0
    assert set(metrics["per_condition"]) == {"glasses", "reflections", "lighting", "sensor"}
    assert sum(map(sum, metrics["confusion"])) == 50
    assert metrics["accuracy"] > 0.8  # a subject the model was trained on: a sanity floor, not a score


def test_eval_refuses_a_folder_of_the_wrong_layout(tmp_path):
    (tmp_path / "open").mkdir()
    proc = eval_eyes("--data", str(tmp_path))
    assert proc.returncode == 2 and "closed" in proc.stderr


def test_eval_refuses_a_file_name_that_disagrees_with_its_folder(tmp_path):
    for cls in ("open", "closed"):
        (tmp_path / cls).mkdir()
    (tmp_path / "open" / "s0001_00001_0_0_0_0_0_01.png").write_bytes(b"")  # eye-state field 0 = closed
    proc = eval_eyes("--data", str(tmp_path))
    assert proc.returncode == 2 and "disagrees" in proc.stderr
