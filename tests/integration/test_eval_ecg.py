"""tools/eval_ecg.py on WFDB records with beat annotations (three QT Database records from ../shared/datasets)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATASETS = Path(os.environ.get("DMS_DATASETS", ROOT.parent / "shared" / "datasets"))
QTDB = DATASETS / "qtdb"
# a clean sinus rhythm; frequent large ventricular ectopics; 2:1 block (blocked P waves) with bundle-branch block
RECORDS = ("sel100", "sel114", "sel231")


def eval_ecg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "eval_ecg.py"), *args], capture_output=True, text=True)


@pytest.mark.datasets
@pytest.mark.skipif(not QTDB.is_dir(), reason=f"QT Database not found at {QTDB} (set DMS_DATASETS)")
def test_eval_scores_qt_records_and_prints_the_metrics_as_its_last_line(tmp_path):
    for record in RECORDS:
        for ext in ("hea", "dat", "atr"):
            (tmp_path / f"{record}.{ext}").symlink_to(QTDB / f"{record}.{ext}")
    proc = eval_ecg("--data", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("sensitivity", "ppv", "tp", "fn", "fp", "per_record", "per_lead_overall", "tolerance_ms"):
        assert key in metrics
    assert set(metrics["per_record"]) == set(RECORDS)
    assert all(len(leads) == 2 for leads in metrics["per_record"].values())
    assert set(metrics["per_lead_overall"]) == {"0", "1"}
    leads = [r for by_lead in metrics["per_record"].values() for r in by_lead.values()]
    assert sum(r["tp"] for r in leads) == metrics["tp"] and sum(r["fp"] for r in leads) == metrics["fp"]
    assert metrics["tp"] + metrics["fn"] == 2 * (1134 + 862 + 732)  # annotated beats per lead
    assert metrics["tolerance_ms"] == 150.0 and metrics["ms_per_minute"] > 0
    assert metrics["sensitivity"] >= 0.995 and metrics["ppv"] >= 0.995

    one = eval_ecg("--data", str(tmp_path), "--leads", "0", "--window-s", "60")
    assert one.returncode == 0, one.stderr
    windowed = json.loads(one.stdout.strip().splitlines()[-1])
    assert set(windowed["per_lead_overall"]) == {"0"} and windowed["window_s"] == 60.0
    assert windowed["sensitivity"] >= 0.995 and windowed["ppv"] >= 0.995


def test_eval_refuses_a_folder_without_records(tmp_path):
    (tmp_path / "notes.txt").write_text("no records here")
    proc = eval_ecg("--data", str(tmp_path))
    assert proc.returncode == 2 and "no WFDB records" in proc.stderr
    proc = eval_ecg("--data", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "no such folder" in proc.stderr
