"""The soak's analysis (tools/soak.py): time series and event keys in, report and verdict out. Pure: no process, no
file, no clock, so a synthetic series (a leak, a lost event) tests the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

EventKey = tuple[str, str, float]  # an alert event: (alert id, type, t); duplicates are fine, losses are not
WARM_UP_FRACTION = 0.1  # samples before this share of the run are start-up (models loading, caches filling)


@dataclass(frozen=True)
class Limits:
    rss_growth_mb_per_h: float = 2.0
    fd_rise: int = 4  # rise of open fds after the warm-up: a broker reconnect may hold one more for a moment
    thread_rise: int = 2  # rise of threads after the warm-up
    min_fit_s: float = 1800.0  # a shorter fit window gives no RSS trend worth judging (start-up noise dominates)


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (t seconds, value) in value per hour; None for fewer than 3 points or one instant."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return None
    return sum((t - mt) * (v - mv) for t, v in points) / var * 3600.0


def _span(values: list[int]) -> dict[str, int | None]:
    return {"min": min(values) if values else None, "max": max(values) if values else None}


def rise(values: list[int]) -> int | None:
    """How far a count rose above its usual level: the larger of max - median (a rise, whether it stayed or went)
    and last - first (a steady climb). A dip is no leak: a socket closes while the broker is down, and a 95-minute
    soak saw 11 threads drop to 8 in two of its 189 samples."""
    if not values:
        return None
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    return max(ordered[-1] - median, values[-1] - values[0], 0)


def analyse(
    samples: list[dict[str, Any]],
    produced: Iterable[EventKey],
    delivered: Iterable[EventKey],
    run_s: float,
    outages_planned: int,
    outages_done: int,
    limits: Limits = Limits(),
    daemon_exit: int | None = 0,
    max_pending: int | None = None,
) -> dict[str, Any]:
    """`samples`: dicts with t (s since the start), rss_mb, fds, threads, pending (outbox rows the daemon's health
    reported, or None), outbox_bytes. `max_pending`: the largest `pending` of any health message (they also come
    right after a reconnect, when the outbox is fullest); default: the samples' largest."""
    warm = [s for s in samples if s["t"] >= WARM_UP_FRACTION * run_s]
    fit = [(s["t"], s["rss_mb"]) for s in warm]
    growth = slope_per_hour(fit)
    fit_s = fit[-1][0] - fit[0][0] if fit else 0.0
    warm_fds, warm_threads = [s["fds"] for s in warm], [s["threads"] for s in warm]
    pendings = [s["pending"] for s in samples if s.get("pending") is not None]
    if max_pending is None:
        max_pending = max(pendings, default=None)
    produced_set, delivered_set = set(produced), set(delivered)
    lost = sorted(produced_set - delivered_set, key=lambda k: (k[2], k[0], k[1]))
    hours = run_s / 3600.0
    alert_ids = {k[0] for k in produced_set}

    checks: dict[str, dict[str, Any]] = {}

    def check(name: str, ok: bool | None, value: Any, limit: str) -> None:
        checks[name] = {"ok": ok, "value": value, "limit": limit}  # ok None: not judged

    if growth is None or fit_s < limits.min_fit_s:
        check("rss_growth", None, None if growth is None else round(growth, 3),
              f"judged on a fit over >= {limits.min_fit_s:.0f} s (had {fit_s:.0f} s)")
    else:
        check("rss_growth", growth < limits.rss_growth_mb_per_h, round(growth, 3),
              f"< {limits.rss_growth_mb_per_h} MB/h")
    fd_rise, thread_rise = rise(warm_fds), rise(warm_threads)
    check("fds_stable", fd_rise is not None and fd_rise <= limits.fd_rise, fd_rise,
          f"rise after warm-up (max - median, last - first) <= {limits.fd_rise}")
    check("threads_stable", thread_rise is not None and thread_rise <= limits.thread_rise, thread_rise,
          f"rise after warm-up (max - median, last - first) <= {limits.thread_rise}")
    check("events_occurred", len(produced_set) > 0, len(produced_set), "> 0 (a soak without alerts proves nothing)")
    check("lost", not lost, len(lost), "0")
    check("outages", outages_done == outages_planned, outages_done, f"{outages_planned} planned")
    check("daemon_exit", daemon_exit == 0, daemon_exit, "0 after SIGTERM, running until then")
    verdict = all(c["ok"] is not False for c in checks.values())
    return {
        "run_s": round(run_s, 1),
        "samples": len(samples),
        "rss_mb": {"first": samples[0]["rss_mb"] if samples else None,
                   "last": samples[-1]["rss_mb"] if samples else None,
                   "max": max((s["rss_mb"] for s in samples), default=None)},
        "rss_growth_mb_per_h": None if growth is None else round(growth, 3),
        "rss_fit_window_s": round(fit_s, 1),
        "fds": _span(warm_fds),
        "threads": _span(warm_threads),
        "outbox_max_pending": max_pending,
        "outbox_max_bytes": max((s["outbox_bytes"] for s in samples if s.get("outbox_bytes") is not None),
                                default=None),
        "events_produced": len(produced_set),
        "events_delivered": len(produced_set & delivered_set),
        "events_unexpected": len(delivered_set - produced_set),  # delivered but never produced: a bug too
        "events_lost": len(lost),
        "lost_examples": [list(k) for k in lost[:20]],
        "alerts": len(alert_ids),
        "alerts_per_hour": round(len(alert_ids) / hours, 1) if hours > 0 else None,
        "events_per_hour": round(len(produced_set) / hours, 1) if hours > 0 else None,
        "outages_planned": outages_planned,
        "outages_done": outages_done,
        "limits": asdict(limits),
        "checks": checks,
        "verdict": "pass" if verdict else "fail",
    }


def summary(report: dict[str, Any]) -> str:
    """The human summary of `analyse`'s report."""
    r = report
    growth = "n/a" if r["rss_growth_mb_per_h"] is None else f"{r['rss_growth_mb_per_h']:+.2f} MB/h"
    lines = [
        f"soak: {r['run_s'] / 60:.1f} min, {r['samples']} samples, {r['outages_done']}/{r['outages_planned']} "
        "broker outages",
        f"RSS: {r['rss_mb']['first']} -> {r['rss_mb']['last']} MB (max {r['rss_mb']['max']}), growth {growth} "
        f"(fit over the last {r['rss_fit_window_s'] / 60:.1f} min)",
        f"fds: {r['fds']['min']}..{r['fds']['max']}   threads: {r['threads']['min']}..{r['threads']['max']}   "
        f"outbox max: {r['outbox_max_pending']} rows, {r['outbox_max_bytes']} bytes",
        f"events: {r['events_produced']} produced, {r['events_delivered']} delivered, {r['events_lost']} lost, "
        f"{r['events_unexpected']} unexpected; {r['alerts']} alerts ({r['alerts_per_hour']}/h, "
        f"{r['events_per_hour']} events/h)",
    ]
    for name, c in r["checks"].items():
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[c["ok"]]
        lines.append(f"  {mark} {name}: {c['value']} ({c['limit']})")
    lines.append(f"verdict: {r['verdict'].upper()}")
    return "\n".join(lines)
