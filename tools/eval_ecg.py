#!/usr/bin/env python3
"""Score R-peak detectors on WFDB records with reference beat annotations (.atr), like qtdb, so that the numbers
cannot flatter: the project's detector (edge/physio/ecg.py) cross-validated over records, beside NeuroKit2's
detectors on the same records with the same matching.

    .venv/bin/python tools/eval_ecg.py --data DIR [--tolerance-ms 150] [--leads all|0|1] [--window-s 0]
        [--nk all|none|METHOD,...] [--no-cv] [--pauses] [--show N]

Every annotation whose symbol wfdb counts as a beat (N, V, A, F, J, S, …) is a reference R peak. Each lead is
an independent signal; detections and references are matched one-to-one within the tolerance, counting only
those inside the annotated span (first beat − tolerance .. last beat + tolerance), since an annotator may not
cover a whole record. With --window-s W every detector sees consecutive W-second windows on their own, as the live
stage does, and beats within the tolerance of a window edge are not counted.

Headline: leave-one-record-out. The project detector's free numbers (RPeakParams) are chosen, for each record, on
the other records alone (fewest missed + false beats over a small grid; ties go to the earlier in an order fixed
beforehand), and the record is scored with that choice; the pooled held-out counts are the headline. The defaults
(what the folds choose) see every record: --no-cv scores them alone, an in-sample number, labelled so. The
detector's structure was also written while looking at the QT Database, which no grid search undoes: treat even
the held-out number as an upper bound for other databases.

NeuroKit2 (dev extra only) runs each method of `ecg_peaks` after `ecg_clean` with the same-named cleaning where
ecg_clean has one, the raw signal for the methods whose cleaning is none, else ecg_clean's default; without
NeuroKit2 the tool says so and scores the project's detector alone. Its methods have no parameters to fit here. A
method that raises on a lead has detected nothing on it.

--pauses adds a stress test for a failure these records hardly contain: a copy of each lead in which the QRS and T
of 2-4 consecutive beats, every 40 beats, are replaced by a straight line, leaving their P waves (a pause of
several seconds with blocked P waves, like a sinus pause or an AV block); the erased beats are no longer
references. With --pauses the cross-validation counts the training records' paused copies too.

Each detector's offset is the median of (detection − annotation) over its matched beats, in ms: HRV needs the
beat times, not just the count. Prints a per-record table (FN/FP of every detector per lead), a summary per
detector, then as its last line one JSON object: sensitivity, ppv, tp, fn, fp (the project detector's held-out
counts pooled over all leads of all records), evaluation, per_record, per_lead_overall, worst (the three
record-leads with the most errors), chosen_params, offset_ms, tolerance_ms, window_s, ms_per_minute (detector time
per minute of ECG, whole or window by window as scored; the fastest of three passes for the project's detector,
one pass for NeuroKit2's), in_sample (the defaults on every record), neurokit2 (per method: the same counts,
per_record, worst, offset_ms, ms_per_minute; null when not installed, with neurokit2_missing saying why), and
paused (the same for the paused copies) with --pauses.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import wfdb
from wfdb.io.annotation import ann_labels, is_qrs

from edge.physio.ecg import DEFAULT_PARAMS, RPeakParams, detect_r_peaks

TIMING_PASSES = 3
BEAT_SYMBOLS = frozenset(label.symbol for label in ann_labels if is_qrs[label.label_store])
PROJECT = "dms"
Detector = Callable[[np.ndarray, float], np.ndarray]

# The cross-validation grid, in an order fixed before looking at any record (ties go to the earlier): Pan and
# Tompkins' own threshold (a quarter of the way from noise to signal) and T-wave slope ratio (a half) first. The
# halvings of the signal level in a gap (max_decays) are a rule, not a grid axis: with them free, the fold that
# holds out sel231 (the only record with 2:1 AV block) chose eight halvings on the other 17, and counted 1700
# blocked P waves as beats on it.
GRID: list[RPeakParams] = [
    replace(DEFAULT_PARAMS, threshold=t, t_wave_slope=s)
    for t, s in itertools.product((0.25, 0.3, 0.35), (0.5, 0.4, 0.6))
]

# NeuroKit2 0.2.13's ecg_peaks methods. ecg_clean has a same-named cleaning for some, does none for others (None:
# the raw signal); the rest get its default. emrich2023 needs the ts2vg package; promac combines all the others.
NK_CLEANING: dict[str, str | None] = {
    "neurokit": "neurokit",
    "pantompkins1985": "pantompkins1985",
    "hamilton2002": "hamilton2002",
    "elgendi2010": "elgendi2010",
    "engzeemod2012": "engzeemod2012",
    "gamboa2008": "biosppy",
    "christov2004": None,
    "zong2003": None,
    "kalidas2017": None,
    "ssf": None,
    "nabian2018": "neurokit",
    "martinez2004": "neurokit",
    "rodrigues2021": "neurokit",
    "manikandan2012": "neurokit",
    "khamis2016": "neurokit",
}

# --pauses: every PAUSE_EVERY beats, the QRS and T of 2-4 beats become a straight line from 50 ms before the R to
# 420 ms after it (never closer than 100 ms to the next beat), so their P waves stay.
PAUSE_EVERY, PAUSE_BEFORE_S, PAUSE_AFTER_S, PAUSE_KEEP_S = 40, 0.05, 0.42, 0.1


@dataclass
class Lead:
    record: str
    index: int
    name: str
    signal: np.ndarray
    fs: float
    reference: np.ndarray  # sample indices of annotated beats


def list_records(data: Path) -> list[str]:
    """Record names in DIR that have a header, a signal and a reference annotation file."""
    if not data.is_dir():
        raise FileNotFoundError(f"no such folder: {data}")
    names = sorted(p.stem for p in data.glob("*.hea") if p.with_suffix(".atr").is_file())
    if not names:
        raise ValueError(f"no WFDB records with .atr annotations (NAME.hea + NAME.atr) in {data}")
    return names


def load_leads(data: Path, records: list[str], leads: str) -> list[Lead]:
    out = []
    for name in records:
        record = wfdb.rdrecord(str(data / name))
        ann = wfdb.rdann(str(data / name), "atr")
        beats = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in BEAT_SYMBOLS], dtype=np.int64)
        indices = range(record.n_sig) if leads == "all" else [int(leads)]
        for i in indices:
            if i >= record.n_sig:
                raise ValueError(f"{name} has {record.n_sig} signals, no lead {i}")
            signal = np.asarray(record.p_signal[:, i], dtype=np.float64)
            out.append(Lead(name, i, record.sig_name[i], signal, float(record.fs), beats))
    return out


def with_pauses(lead: Lead, seed: int = 0) -> Lead:
    """A copy of the lead with pauses of 2-4 erased beats (QRS and T a straight line, P waves kept) every
    PAUSE_EVERY beats; the erased beats leave the reference."""
    rng = np.random.default_rng(seed)
    x, ref, fs = lead.signal.copy(), lead.reference, lead.fs
    keep = np.ones(len(ref), dtype=bool)
    for first in range(10, len(ref) - 10, PAUSE_EVERY):
        for b in range(first, first + int(rng.integers(2, 5))):
            a0 = ref[b] - int(PAUSE_BEFORE_S * fs)
            a1 = min(ref[b] + int(PAUSE_AFTER_S * fs), ref[b + 1] - int(PAUSE_KEEP_S * fs))
            if a0 > 0 and a1 > a0:
                x[a0:a1] = np.linspace(x[a0], x[a1], a1 - a0)
            keep[b] = False
    return replace(lead, signal=x, reference=ref[keep])


def match(reference: np.ndarray, detected: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matched mask over reference, matched mask over detected, detected − reference of each matched pair),
    one-to-one within ±tolerance samples. Each acceptable set is an interval and both lists are sorted, so taking
    for each reference in turn the earliest unmatched detection in reach gives a maximum matching."""
    ref_hit = np.zeros(len(reference), dtype=bool)
    det_hit = np.zeros(len(detected), dtype=bool)
    offsets: list[int] = []
    j = 0
    for i, r in enumerate(reference):
        while j < len(detected) and detected[j] < r - tolerance:
            j += 1
        if j < len(detected) and detected[j] <= r + tolerance:
            ref_hit[i] = det_hit[j] = True
            offsets.append(int(detected[j] - r))
            j += 1
    return ref_hit, det_hit, np.asarray(offsets, dtype=np.int64)


def detect(lead: Lead, window_s: float, detector: Detector) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Detections over the whole lead, or window by window; and the spans [a, b) in which beats are counted."""
    if window_s <= 0:
        return np.asarray(detector(lead.signal, lead.fs), dtype=np.int64), [(0, len(lead.signal))]
    step = int(round(window_s * lead.fs))
    found, spans = [], []
    for a in range(0, len(lead.signal) - step + 1, step):
        found.append(a + np.asarray(detector(lead.signal[a : a + step], lead.fs), dtype=np.int64))
        spans.append((a, a + step))
    return (np.concatenate(found) if found else np.empty(0, dtype=np.int64)), spans


def _rates(tp: int, fn: int, fp: int) -> dict[str, Any]:
    return {
        "sensitivity": round(tp / (tp + fn), 4) if tp + fn else None,
        "ppv": round(tp / (tp + fp), 4) if tp + fp else None,
        "tp": tp,
        "fn": fn,
        "fp": fp,
    }


def score_lead(lead: Lead, detected: np.ndarray, spans: list[tuple[int, int]], tolerance: int) -> dict[str, Any]:
    """Counts over the annotated span (cut to each window, less the tolerance at window edges), the times (s) of the
    missed references and false detections, and the offsets (ms) of the matched detections."""
    ref, det = lead.reference, np.sort(detected)
    if len(ref) == 0:
        return {**_rates(0, 0, 0), "missed_s": [], "false_s": [], "offsets_ms": []}
    lo, hi = ref[0] - tolerance, ref[-1] + tolerance
    edge = tolerance if len(spans) > 1 else 0
    tp = fn = fp = 0
    missed: list[float] = []
    false: list[float] = []
    offsets: list[float] = []
    for a, b in spans:
        # match everything the window holds, count what lies in its interior and in the annotated span
        r, d = ref[(ref >= a) & (ref < b)], det[(det >= a) & (det < b)]
        ref_hit, det_hit, offset = match(r, d, tolerance)
        a, b = max(lo, a + edge), min(hi, b - edge)
        r_in, d_in = (r >= a) & (r <= b), (d >= a) & (d <= b)
        tp += int((ref_hit & r_in).sum())
        fn += int((~ref_hit & r_in).sum())
        fp += int((~det_hit & d_in).sum())
        missed += (r[~ref_hit & r_in] / lead.fs).round(2).tolist()
        false += (d[~det_hit & d_in] / lead.fs).round(2).tolist()
        offsets += (offset[r_in[ref_hit]] * 1000.0 / lead.fs).tolist()
    return {**_rates(tp, fn, fp), "missed_s": missed, "false_s": false, "offsets_ms": offsets}


def score(leads: list[Lead], detector: Detector, tolerance_ms: float, window_s: float) -> list[dict[str, Any]]:
    """score_lead for each lead, in order."""
    out = []
    for lead in leads:
        detected, spans = detect(lead, window_s, detector)
        out.append(score_lead(lead, detected, spans, int(round(tolerance_ms / 1000.0 * lead.fs))))
    return out


def ecg_minutes(leads: list[Lead]) -> float:
    return sum(len(lead.signal) / lead.fs for lead in leads) / 60.0


def time_detector(leads: list[Lead], window_s: float, detector: Detector) -> float:
    """Detector ms per minute of ECG over all leads (whole or window by window, as scored), the fastest of
    TIMING_PASSES passes."""
    best = float("inf")
    for _ in range(TIMING_PASSES):
        started = time.perf_counter()
        for lead in leads:
            detect(lead, window_s, detector)
        best = min(best, time.perf_counter() - started)
    return best * 1000.0 / ecg_minutes(leads)


def project_detector(params: RPeakParams) -> Detector:
    return lambda x, fs: detect_r_peaks(x, fs, params)


def cross_validate(
    leads: list[Lead], results: list[list[dict[str, Any]]], stress: list[list[dict[str, Any]]] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None, dict[str, int]]:
    """Leave one record out. results[g][k] scores GRID[g] on leads[k] (stress[g][k]: on its paused copy, also
    counted in the choice when given). For each record, the grid point with the fewest missed + false beats on the
    other records (the first of equals) scores it. Returns the held-out results in lead order, the same for the
    paused copies, and the chosen grid index per record."""
    records = list(dict.fromkeys(lead.record for lead in leads))
    held: list[dict[str, Any]] = [{} for _ in leads]
    held_stress: list[dict[str, Any]] | None = [{} for _ in leads] if stress is not None else None
    chosen: dict[str, int] = {}
    for record in records:
        train = [k for k, lead in enumerate(leads) if lead.record != record]
        errors = [
            sum(r[k]["fn"] + r[k]["fp"] for k in train)
            + (sum(t[k]["fn"] + t[k]["fp"] for k in train) if stress is not None else 0)
            for r, t in zip(results, stress if stress is not None else results)
        ]
        g = chosen[record] = int(np.argmin(errors))
        for k, lead in enumerate(leads):
            if lead.record == record:
                held[k] = results[g][k]
                if held_stress is not None and stress is not None:
                    held_stress[k] = stress[g][k]
    return held, held_stress, chosen


def summarise(leads: list[Lead], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled counts, per record and lead, per lead index, the three worst record-leads and the offsets."""
    per_record: dict[str, dict[str, Any]] = {}
    per_lead: dict[int, list[int]] = {}
    offsets: list[float] = []
    for lead, result in zip(leads, results):
        per_record.setdefault(lead.record, {})[lead.name] = _rates(result["tp"], result["fn"], result["fp"])
        totals = per_lead.setdefault(lead.index, [0, 0, 0])
        for k, key in enumerate(("tp", "fn", "fp")):
            totals[k] += result[key]
        offsets += result["offsets_ms"]
    tp, fn, fp = (sum(t[k] for t in per_lead.values()) for k in range(3))
    ranked = sorted(
        ((r["fn"] + r["fp"], record, name) for record, by_lead in per_record.items() for name, r in by_lead.items()),
        reverse=True,
    )
    spread = np.abs(offsets) if offsets else np.zeros(1)
    return {
        **_rates(tp, fn, fp),
        "records": len(per_record),
        "leads": len(leads),
        "per_record": per_record,
        "per_lead_overall": {str(i): _rates(*per_lead[i]) for i in sorted(per_lead)},
        "worst": [{"record": record, "lead": name, **per_record[record][name]} for _, record, name in ranked[:3]],
        "offset_ms": {
            "median": round(float(np.median(offsets)), 1) if offsets else None,
            "abs_p95": round(float(np.percentile(spread, 95)), 1) if offsets else None,
        },
    }


def neurokit_detectors(methods: str) -> tuple[dict[str, Detector], str | None]:
    """({method: detector}, None), or ({}, why not) when NeuroKit2 is not installed or methods is 'none'."""
    if methods == "none":
        return {}, "not asked for (--nk none)"
    try:
        import neurokit2 as nk
    except ImportError:
        return {}, "neurokit2 is not installed (it is in the dev extra: pip install neurokit2); scored dms alone"
    names = list(NK_CLEANING) if methods == "all" else methods.split(",")
    unknown = [m for m in names if m not in NK_CLEANING]
    if unknown:
        raise ValueError(f"unknown NeuroKit2 method(s) {unknown}; known: {', '.join(NK_CLEANING)}")

    def make(method: str) -> Detector:
        cleaning = NK_CLEANING[method]

        def run(x: np.ndarray, fs: float) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NeuroKitWarning about, e.g., too few peaks in a window
                clean = nk.ecg_clean(x, sampling_rate=fs, method=cleaning) if cleaning else x
                try:
                    _, info = nk.ecg_peaks(clean, sampling_rate=fs, method=method, correct_artifacts=False)
                except Exception:  # noqa: BLE001 - a library method that fails on a lead (manikandan2012 does
                    # on some records) has found nothing there, and every beat of it counts as missed
                    return np.empty(0, dtype=np.int64)
            return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)

        return run

    return {f"nk:{m}": make(m) for m in names}, None


def timed_score(
    leads: list[Lead], detector: Detector, tolerance_ms: float, window_s: float
) -> tuple[list[dict[str, Any]], float]:
    """score() and its ms per minute of ECG (one pass: the detection itself, for the slow library methods)."""
    started = time.perf_counter()
    results = score(leads, detector, tolerance_ms, window_s)
    return results, (time.perf_counter() - started) * 1000.0 / ecg_minutes(leads)


def evaluate(
    leads: list[Lead], tolerance_ms: float, window_s: float, nk_methods: str, cv: bool, pauses: bool
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """(metrics, the per-lead results of every detector by name, for the tables)."""
    stressed = [with_pauses(lead) for lead in leads] if pauses else []
    grid = GRID if cv else [DEFAULT_PARAMS]
    results = [score(leads, project_detector(p), tolerance_ms, window_s) for p in grid]
    in_sample = (
        results[grid.index(DEFAULT_PARAMS)]
        if DEFAULT_PARAMS in grid
        else score(leads, project_detector(DEFAULT_PARAMS), tolerance_ms, window_s)
    )
    stress = [score(stressed, project_detector(p), tolerance_ms, window_s) for p in grid] if pauses else None
    held, held_stress, chosen = cross_validate(leads, results, stress)
    by_name = {PROJECT: held}
    metrics: dict[str, Any] = {
        **summarise(leads, held),
        "evaluation": "leave-one-record-out" if cv else "in-sample (defaults chosen on these records)",
        "chosen_params": {record: asdict(grid[g]) for record, g in chosen.items()},
        "tolerance_ms": tolerance_ms,
        "window_s": window_s if window_s > 0 else None,
        "ms_per_minute": round(time_detector(leads, window_s, project_detector(DEFAULT_PARAMS)), 3),
        "in_sample": {k: v for k, v in summarise(leads, in_sample).items() if k != "per_record"},
    }
    detectors, missing = neurokit_detectors(nk_methods)
    metrics["neurokit2"] = {} if detectors else None
    if missing:
        metrics["neurokit2_missing"] = missing
    paused: dict[str, Any] = {}
    if held_stress is not None:
        by_name[f"{PROJECT} paused"] = held_stress
        paused[PROJECT] = summarise(stressed, held_stress)
    for name, detector in detectors.items():
        results_nk, ms = timed_score(leads, detector, tolerance_ms, window_s)
        by_name[name] = results_nk
        metrics["neurokit2"][name.removeprefix("nk:")] = {**summarise(leads, results_nk), "ms_per_minute": round(ms, 3)}
        if pauses:
            by_name[f"{name} paused"] = score(stressed, detector, tolerance_ms, window_s)
            paused[name] = summarise(stressed, by_name[f"{name} paused"])
    if pauses:
        metrics["paused"] = paused
    return metrics, by_name


def _pct(x: float | None) -> str:
    return f"{100 * x:.2f}" if x is not None else "-"


def print_tables(
    leads: list[Lead], metrics: dict[str, Any], by_name: dict[str, list[dict[str, Any]]], show: int
) -> None:
    names = list(by_name)
    short = [n.removeprefix("nk:").replace(" paused", "+p")[:11] for n in names]
    print(f"{'record':<9} {'lead':<5} {'beats':>5}  " + " ".join(f"{s:>11}" for s in short) + "   (FN/FP)")
    for k, lead in enumerate(leads):
        cells = " ".join(f"{by_name[n][k]['fn']:>5}/{by_name[n][k]['fp']:<5}" for n in names)
        print(f"{lead.record:<9} {lead.name:<5} {len(lead.reference):>5}  {cells}")
        mine = by_name[PROJECT][k]
        if show and (mine["fn"] or mine["fp"]):
            print(f"{'':<17}{PROJECT} missed at {mine['missed_s'][:show]} s; false at {mine['false_s'][:show]} s")
    print()
    print(f"{'detector':<20} {'Se %':>7} {'PPV %':>7} {'FN':>5} {'FP':>5} {'offset ms':>9} {'ms/min':>8}  worst lead")
    held_out = metrics["evaluation"].startswith("leave")
    rows = [(f"{PROJECT} ({'held out' if held_out else 'in-sample'})", metrics)]
    rows += [(f"nk:{m}", r) for m, r in (metrics["neurokit2"] or {}).items()]
    rows += [(f"{n} +pauses", r) for n, r in metrics.get("paused", {}).items()]
    for name, r in rows:
        worst = r["worst"][0] if r["worst"] else None
        w = f"{worst['record']}/{worst['lead']} FN {worst['fn']} FP {worst['fp']}" if worst else "-"
        ms = f"{r['ms_per_minute']:.1f}" if "ms_per_minute" in r else ""
        off = r["offset_ms"]["median"]
        print(
            f"{name:<20} {_pct(r['sensitivity']):>7} {_pct(r['ppv']):>7} {r['fn']:>5} {r['fp']:>5} "
            f"{off if off is not None else '-':>9} {ms:>8}  {w}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tolerance-ms", type=float, default=150.0)
    parser.add_argument("--leads", default="all", help="'all', or one lead index (0, 1, ...)")
    parser.add_argument("--window-s", type=float, default=0.0, help="detect on W-second windows (0: whole record)")
    parser.add_argument("--nk", default="all", help="NeuroKit2 methods: 'all', 'none' or a comma-separated list")
    parser.add_argument("--no-cv", action="store_true", help="score the default parameters only (in-sample)")
    parser.add_argument("--pauses", action="store_true", help="also score copies with pauses of erased beats")
    parser.add_argument("--show", type=int, default=0, metavar="N", help="print the first N missed/false times")
    args = parser.parse_args()
    if args.leads != "all" and not args.leads.isdigit():
        print(f"error: --leads must be 'all' or a lead index, got {args.leads!r}", file=sys.stderr)
        return 2
    try:
        leads = load_leads(args.data, list_records(args.data), args.leads)
        metrics, by_name = evaluate(leads, args.tolerance_ms, args.window_s, args.nk, not args.no_cv, args.pauses)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print_tables(leads, metrics, by_name, args.show)
    if "neurokit2_missing" in metrics:
        print(f"NeuroKit2: {metrics['neurokit2_missing']}")
    print(
        f"{PROJECT}, {metrics['evaluation']}, pooled over {metrics['leads']} leads of {metrics['records']} records: "
        f"sensitivity {metrics['sensitivity']}, PPV {metrics['ppv']} (TP {metrics['tp']}, FN {metrics['fn']}, "
        f"FP {metrics['fp']}; ±{args.tolerance_ms:g} ms); {metrics['ms_per_minute']:.2f} ms per minute of ECG"
    )
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
