"""The live physiology path on a real drive: drivedb's drive17a at full rate (ECG 496 Hz, foot GSR 31 Hz, raw_wfdb)
fed to the PhysioStage as a serial sensor would feed it, R-peaks and all.

drive17 is one of the stress model's training drivers, so this checks the live path (R-peaks instead of the
recorder's HR channel, the stage's windows and baseline), not how well the model generalises (tools/eval_stress.py
on the held-out drivers does that)."""

import os
from pathlib import Path

import numpy as np
import pytest

from edge.config import Config
from edge.physio.stage import PhysioStage, load_stress_model
from edge.sources.serial_lines import PhysioSample

ROOT = Path(__file__).resolve().parents[2]
DRIVEDB = Path(os.environ.get("DMS_DATASETS", ROOT.parent / "shared" / "datasets")) / "drivedb"
REST, CITY = (56.8, 921.9), (986.9, 1742.1)  # drive17a's segments (csv_framerate/segments.csv)

pytestmark = [
    pytest.mark.datasets,
    pytest.mark.skipif(not (DRIVEDB / "raw_wfdb" / "drive17a.hea").is_file(), reason=f"drivedb not at {DRIVEDB}"),
]


def sensor_samples() -> tuple[list[PhysioSample], np.ndarray, np.ndarray]:
    """drive17a's ECG and foot GSR as time-ordered samples (GSR on the ECG sample nearest in time), and the
    recorder's own HR channel (times, bpm) to compare with."""
    wfdb = pytest.importorskip("wfdb")
    rec = wfdb.rdrecord(str(DRIVEDB / "raw_wfdb" / "drive17a"), smooth_frames=False)
    names = list(rec.sig_name)
    frames_per_s = rec.fs
    ecg = np.asarray(rec.e_p_signal[names.index("ECG")], np.float64)
    gsr = np.asarray(rec.e_p_signal[names.index("foot GSR")], np.float64)
    hr = np.asarray(rec.e_p_signal[names.index("HR")], np.float64)
    ecg_fs = frames_per_s * rec.samps_per_frame[names.index("ECG")]
    gsr_every = len(ecg) // len(gsr)
    t = np.arange(len(ecg)) / ecg_fs
    samples = [
        PhysioSample(float(t[i]), float(ecg[i]), float(gsr[i // gsr_every]) if i % gsr_every == 0 else None, None,
                     False)
        for i in range(len(ecg))
    ]
    return samples, np.arange(len(hr)) / frames_per_s, hr


def test_a_real_drive_through_the_live_stage():
    samples, hr_t, hr = sensor_samples()
    cfg = Config.model_validate({"physio": {"gsr_unit": "raw"}})  # the recorder's GSR is in its own mV
    model, problem = load_stress_model(cfg)
    assert problem is None
    stage = PhysioStage(cfg, model)
    estimates = []
    for start in range(0, len(samples), 500):  # about a second at a time, as the daemon drains the serial source
        chunk = samples[start : start + 500]
        stage.feed(chunk)
        if (e := stage.poll(chunk[-1].t)) is not None:
            estimates.append(e)
    assert len(estimates) > 300
    # heart rate from our R-peaks against the recorder's own, over the windows with a good ECG
    good = [e for e in estimates if e.hr_bpm is not None]
    assert len(good) >= 0.9 * len(estimates) and np.median([e.ecg_quality for e in good]) > 0.8
    ratio = [e.hr_bpm / np.nanmedian(hr[(hr_t > e.t - 60) & (hr_t <= e.t)]) for e in good]
    assert abs(np.median(ratio) - 1.0) < 0.05  # the header's 15 frames/s may be 15.5 (3 %): see models/stress.md
    assert all(e.scl is not None for e in estimates[20:])
    # stress: mostly low at rest after the baseline, higher in the city
    classified = [e for e in estimates if e.stress is not None]
    rest = [e for e in classified if REST[0] + 60 <= e.t <= REST[1]]
    city = [e for e in classified if CITY[0] + 60 <= e.t <= CITY[1]]
    assert len(rest) > 50 and len(city) > 100
    assert np.mean([e.stress_level == "low" for e in rest]) > 0.8
    assert np.mean([e.stress_level != "low" for e in city]) > 0.8
    assert np.mean([e.stress["high"] for e in city]) > np.mean([e.stress["high"] for e in rest]) + 0.3
