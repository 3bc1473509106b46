"""tools/eval_ecg.py on WFDB records with beat annotations (three QT Database records from ../shared/datasets): the
project's detector cross-validated over records, beside NeuroKit2 when the dev extra is installed."""

import importlib.util
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


def eval_ecg(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "tools" / "eval_ecg.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def has_neurokit2() -> bool:
    return importlib.util.find_spec("neurokit2") is not None


def qt_folder(tmp_path: Path) -> Path:
    for record in RECORDS:
        for ext in ("hea", "dat", "atr"):
            (tmp_path / f"{record}.{ext}").symlink_to(QTDB / f"{record}.{ext}")
    return tmp_path


@pytest.mark.datasets
@pytest.mark.skipif(not QTDB.is_dir(), reason=f"QT Database not found at {QTDB} (set DMS_DATASETS)")
@pytest.mark.skipif(not has_neurokit2(), reason="neurokit2 (dev extra) not installed")
def test_eval_cross_validates_over_records_beside_neurokit2_and_prints_the_metrics_last(tmp_path):
    proc = eval_ecg("--data", str(qt_folder(tmp_path)), "--nk", "pantompkins1985", "--pauses")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("sensitivity", "ppv", "tp", "fn", "fp", "per_record", "per_lead_overall", "tolerance_ms", "in_sample"):
        assert key in metrics
    assert metrics["evaluation"] == "leave-one-record-out"
    assert set(metrics["per_record"]) == set(metrics["chosen_params"]) == set(RECORDS)
    assert all(len(leads) == 2 for leads in metrics["per_record"].values())
    assert set(metrics["per_lead_overall"]) == {"0", "1"}
    leads = [r for by_lead in metrics["per_record"].values() for r in by_lead.values()]
    assert sum(r["tp"] for r in leads) == metrics["tp"] and sum(r["fp"] for r in leads) == metrics["fp"]
    assert metrics["tp"] + metrics["fn"] == 2 * (1134 + 862 + 732)  # annotated beats per lead
    assert metrics["tolerance_ms"] == 150.0 and metrics["ms_per_minute"] > 0
    assert metrics["sensitivity"] >= 0.995 and metrics["ppv"] >= 0.995
    # beat times for HRV: ours on the annotation, NeuroKit2's Pan-Tompkins on the integrator's delay (~70 ms late)
    assert abs(metrics["offset_ms"]["median"]) <= 4
    nk = metrics["neurokit2"]["pantompkins1985"]
    assert nk["tp"] + nk["fn"] == metrics["tp"] + metrics["fn"] and nk["offset_ms"]["median"] > 20
    # the same records with pauses of erased beats: no P wave of a pause counted on the sinus and ectopic records
    paused = metrics["paused"]["dms"]["per_record"]
    assert all(paused[record][lead]["fp"] == 0 for record in ("sel100", "sel114") for lead in paused[record])
    assert "nk:pantompkins1985" in proc.stdout and "dms (held out)" in proc.stdout


@pytest.mark.datasets
@pytest.mark.skipif(not QTDB.is_dir(), reason=f"QT Database not found at {QTDB} (set DMS_DATASETS)")
def test_eval_without_neurokit2_says_so_and_scores_the_project_detector_window_by_window(tmp_path):
    # a neurokit2 package that fails to import stands in for one that is not installed
    shim = tmp_path / "shim" / "neurokit2"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(shim.parent)}
    one = eval_ecg("--data", str(qt_folder(tmp_path)), "--leads", "0", "--window-s", "60", "--no-cv", env=env)
    assert one.returncode == 0, one.stderr
    windowed = json.loads(one.stdout.strip().splitlines()[-1])
    assert windowed["neurokit2"] is None and "not installed" in windowed["neurokit2_missing"]
    assert "NeuroKit2: neurokit2 is not installed" in one.stdout
    assert windowed["evaluation"].startswith("in-sample")
    assert set(windowed["per_lead_overall"]) == {"0"} and windowed["window_s"] == 60.0
    assert windowed["sensitivity"] >= 0.995 and windowed["ppv"] >= 0.995


def test_eval_refuses_a_folder_without_records(tmp_path):
    (tmp_path / "notes.txt").write_text("no records here")
    proc = eval_ecg("--data", str(tmp_path))
    assert proc.returncode == 2 and "no WFDB records" in proc.stderr
    proc = eval_ecg("--data", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "no such folder" in proc.stderr
