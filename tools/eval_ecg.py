#!/usr/bin/env python3
"""Score the R-peak detector (edge/physio/ecg.py) on WFDB records with reference beat annotations (.atr), like qtdb.

    .venv/bin/python tools/eval_ecg.py --data DIR [--tolerance-ms 150] [--leads all|0|1] [--window-s 0] [--show N]

Every annotation whose symbol wfdb counts as a beat (N, V, A, F, J, S, …) is a reference R peak. Each lead is
an independent signal; detections and references are matched one-to-one within the tolerance, counting only
those inside the annotated span (first beat − tolerance .. last beat + tolerance), since an annotator may not
cover a whole record. With --window-s W the detector sees consecutive W-second windows on their own, as the live
stage does, and beats within the tolerance of a window edge are not counted. Prints a per-record table, then as
its last line one JSON object: sensitivity, ppv, tp, fn, fp (pooled over all leads of all records), per_record,
per_lead_overall, worst (the three record-leads with the most errors), tolerance_ms, window_s, ms_per_minute
(detector time per minute of ECG, whole or window by window as scored, the fastest of three passes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import wfdb
from wfdb.io.annotation import ann_labels, is_qrs

from edge.physio.ecg import detect_r_peaks

TIMING_PASSES = 3
BEAT_SYMBOLS = frozenset(label.symbol for label in ann_labels if is_qrs[label.label_store])


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


def match(reference: np.ndarray, detected: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """(matched mask over reference, matched mask over detected), one-to-one within ±tolerance samples. Each
    acceptable set is an interval and both lists are sorted, so taking for each reference in turn the earliest
    unmatched detection in reach gives a maximum matching."""
    ref_hit = np.zeros(len(reference), dtype=bool)
    det_hit = np.zeros(len(detected), dtype=bool)
    j = 0
    for i, r in enumerate(reference):
        while j < len(detected) and detected[j] < r - tolerance:
            j += 1
        if j < len(detected) and detected[j] <= r + tolerance:
            ref_hit[i] = det_hit[j] = True
            j += 1
    return ref_hit, det_hit


def detect(lead: Lead, window_s: float) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Detections over the whole lead, or window by window; and the spans [a, b) in which beats are counted."""
    if window_s <= 0:
        return detect_r_peaks(lead.signal, lead.fs), [(0, len(lead.signal))]
    step = int(round(window_s * lead.fs))
    found, spans = [], []
    for a in range(0, len(lead.signal) - step + 1, step):
        found.append(a + detect_r_peaks(lead.signal[a : a + step], lead.fs))
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
    """Counts over the annotated span (cut to each window, less the tolerance at window edges), and the times (s)
    of the missed references and false detections."""
    ref, det = lead.reference, np.sort(detected)
    if len(ref) == 0:
        return {**_rates(0, 0, 0), "missed_s": [], "false_s": []}
    lo, hi = ref[0] - tolerance, ref[-1] + tolerance
    edge = tolerance if len(spans) > 1 else 0
    tp = fn = fp = 0
    missed: list[float] = []
    false: list[float] = []
    for a, b in spans:
        # match everything the window holds, count what lies in its interior and in the annotated span
        r, d = ref[(ref >= a) & (ref < b)], det[(det >= a) & (det < b)]
        ref_hit, det_hit = match(r, d, tolerance)
        a, b = max(lo, a + edge), min(hi, b - edge)
        r_in, d_in = (r >= a) & (r <= b), (d >= a) & (d <= b)
        tp += int((ref_hit & r_in).sum())
        fn += int((~ref_hit & r_in).sum())
        fp += int((~det_hit & d_in).sum())
        missed += (r[~ref_hit & r_in] / lead.fs).round(2).tolist()
        false += (d[~det_hit & d_in] / lead.fs).round(2).tolist()
    return {**_rates(tp, fn, fp), "missed_s": missed, "false_s": false}


def time_detector(leads: list[Lead], window_s: float) -> float:
    """Detector ms per minute of ECG over all leads (whole or window by window, as scored), the fastest of
    TIMING_PASSES passes."""
    minutes = sum(len(lead.signal) / lead.fs for lead in leads) / 60.0
    best = float("inf")
    for _ in range(TIMING_PASSES):
        started = time.perf_counter()
        for lead in leads:
            detect(lead, window_s)
        best = min(best, time.perf_counter() - started)
    return best * 1000.0 / minutes


def evaluate(leads: list[Lead], tolerance_ms: float, window_s: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, the missed and false times per record and lead)."""
    per_record: dict[str, dict[str, Any]] = {}
    errors: dict[str, dict[str, Any]] = {}
    per_lead: dict[int, list[int]] = {}
    for lead in leads:
        tolerance = int(round(tolerance_ms / 1000.0 * lead.fs))
        detected, spans = detect(lead, window_s)
        result = score_lead(lead, detected, spans, tolerance)
        errors.setdefault(lead.record, {})[lead.name] = {k: result.pop(k) for k in ("missed_s", "false_s")}
        per_record.setdefault(lead.record, {})[lead.name] = result
        totals = per_lead.setdefault(lead.index, [0, 0, 0])
        for k, key in enumerate(("tp", "fn", "fp")):
            totals[k] += result[key]
    tp, fn, fp = (sum(t[k] for t in per_lead.values()) for k in range(3))
    ranked = sorted(
        ((r["fn"] + r["fp"], record, name) for record, by_lead in per_record.items() for name, r in by_lead.items()),
        reverse=True,
    )
    metrics = {
        **_rates(tp, fn, fp),
        "records": len(per_record),
        "leads": len(leads),
        "per_record": per_record,
        "per_lead_overall": {str(i): _rates(*per_lead[i]) for i in sorted(per_lead)},
        "worst": [{"record": record, "lead": name, **per_record[record][name]} for _, record, name in ranked[:3]],
        "tolerance_ms": tolerance_ms,
        "window_s": window_s if window_s > 0 else None,
        "ms_per_minute": round(time_detector(leads, window_s), 3),
    }
    return metrics, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--tolerance-ms", type=float, default=150.0)
    parser.add_argument("--leads", default="all", help="'all', or one lead index (0, 1, ...)")
    parser.add_argument("--window-s", type=float, default=0.0, help="detect on W-second windows (0: whole record)")
    parser.add_argument("--show", type=int, default=0, metavar="N", help="print the first N missed/false times")
    args = parser.parse_args()
    if args.leads != "all" and not args.leads.isdigit():
        print(f"error: --leads must be 'all' or a lead index, got {args.leads!r}", file=sys.stderr)
        return 2
    try:
        leads = load_leads(args.data, list_records(args.data), args.leads)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    metrics, errors = evaluate(leads, args.tolerance_ms, args.window_s)
    print(f"{'record':<10} {'lead':<6} {'beats':>6} {'TP':>6} {'FN':>4} {'FP':>4} {'Se %':>7} {'PPV %':>7}")
    for record, by_lead in metrics["per_record"].items():
        for name, r in by_lead.items():
            se = f"{100 * r['sensitivity']:.2f}" if r["sensitivity"] is not None else "-"
            ppv = f"{100 * r['ppv']:.2f}" if r["ppv"] is not None else "-"
            counts = f"{r['tp'] + r['fn']:>6} {r['tp']:>6} {r['fn']:>4} {r['fp']:>4}"
            print(f"{record:<10} {name:<6} {counts} {se:>7} {ppv:>7}")
            if args.show and (r["fn"] or r["fp"]):
                e = errors[record][name]
                print(f"{'':<18}missed at {e['missed_s'][: args.show]} s; false at {e['false_s'][: args.show]} s")
    print(
        f"pooled over {metrics['leads']} leads of {metrics['records']} records: sensitivity "
        f"{metrics['sensitivity']}, PPV {metrics['ppv']} (TP {metrics['tp']}, FN {metrics['fn']}, FP {metrics['fp']}; "
        f"±{args.tolerance_ms:g} ms); {metrics['ms_per_minute']:.2f} ms per minute of ECG"
    )
    for i, r in metrics["per_lead_overall"].items():
        print(f"  lead {i}: sensitivity {r['sensitivity']}, PPV {r['ppv']} (FN {r['fn']}, FP {r['fp']})")
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
