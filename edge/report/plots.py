"""The report's timelines: one figure, a panel per quantity the run has data for, on one time axis, as SVG text.

matplotlib's object API (Figure, no pyplot): no global state and no display, so it runs headless and in threads.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import numpy as np

from edge.names import ALERT_LEVELS
from edge.report.run import Run
from edge.report.summary import runs_of
from edge.types import EMOTION_LABELS

LEVEL_COLOURS = {"advisory": "#e6b800", "warning": "#f28c28", "critical": "#d62728"}
EMOTION_COLOURS = ("#9e9e9e", "#2ca02c", "#17becf", "#1f77b4", "#d62728", "#8c564b", "#9467bd", "#e377c2")
PANEL_HEIGHT_IN = 1.7
WIDTH_IN = 11.0


def _shade(ax, run: Run, mask: np.ndarray, colour: str, label: str) -> None:
    for n, (a, b) in enumerate(runs_of(mask)):
        end = run.t[b + 1] if b + 1 < len(run.t) else run.t[b]
        ax.axvspan(run.t[a], end, color=colour, alpha=0.25, lw=0, label=label if n == 0 else None)


def _eyes(ax, run: Run) -> list:
    ax.plot(run.t, run.closed_prob, color="#1f77b4", lw=1, label="P(eyes closed)")
    _shade(ax, run, run.closed_s > 0, "#1f77b4", "closure")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("eyes")
    return [ax]


def _drowsiness(ax, run: Run) -> list:
    ax.plot(run.t, 100.0 * run.perclos, color="#9467bd", lw=1.2, label="PERCLOS %")
    ax.set_ylabel("PERCLOS %")
    ax.set_ylim(bottom=0)
    if run.has(run.kss):
        kss = ax.twinx()
        kss.step(run.t, run.kss, where="post", color="#8c564b", lw=1.2, label="KSS")
        kss.set_ylim(0.5, 9.5)
        kss.set_ylabel("KSS")
        return [ax, kss]
    return [ax]


def _head(ax, run: Run) -> list:
    ax.plot(run.t, run.yaw, color="#ff7f0e", lw=1, label="yaw")
    ax.plot(run.t, run.pitch, color="#2ca02c", lw=1, label="pitch")
    ax.axhline(0.0, color="#777", lw=0.5)
    _shade(ax, run, run.on_road == 0, "#ff7f0e", "off road")
    ax.set_ylabel("head ° vs road")
    return [ax]


def _mouth(ax, run: Run) -> list:
    ax.plot(run.t, run.mar, color="#17becf", lw=1, label="mouth opening")
    counted = np.flatnonzero(np.diff(np.nan_to_num(run.yawns, nan=-1.0)) > 0) + 1
    for n, i in enumerate(counted):
        ax.axvline(run.t[i], color="#d62728", lw=1, ls="--", label="yawn counted" if n == 0 else None)
    ax.set_ylabel("mouth")
    return [ax]


def _stress(ax, run: Run) -> list:
    if run.has(run.stress):
        ax.plot(run.t, run.stress, color="#d62728", lw=1.2, label="stress")
    if run.has(run.voice_arousal):
        ax.plot(run.t, run.voice_arousal, color="#e377c2", lw=1, label="voice arousal")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("stress")
    if run.has(run.hr_bpm):
        hr = ax.twinx()
        hr.plot(run.t, run.hr_bpm, color="#7f7f7f", lw=1, label="heart rate")
        hr.set_ylabel("bpm")
        return [ax, hr]
    return [ax]


def _emotion(ax, run: Run) -> list:
    e = np.nan_to_num(run.emotion, nan=0.0)
    ax.stackplot(run.t, e.T, colors=EMOTION_COLOURS, labels=EMOTION_LABELS, lw=0)
    ax.set_ylim(0, 1)
    ax.set_ylabel("emotion")
    return [ax]


def _labelled(ax, run: Run) -> list:
    kinds = sorted({kind for kind, _, _ in run.labelled})
    for kind, start, end in run.labelled:
        ax.barh(kinds.index(kind), max(end - start, 0.05), left=start, height=0.7, color="#555", edgecolor="none")
    ax.set_yticks(range(len(kinds)), kinds, fontsize=7)
    ax.set_ylim(-0.6, len(kinds) - 0.4)
    ax.invert_yaxis()
    ax.set_ylabel("labels")
    return [ax]


def _alerts(ax, run: Run) -> list:
    kinds = sorted({a.kind for a in run.alerts})
    for a in run.alerts:
        end = a.end if a.end is not None else run.end
        ax.barh(kinds.index(a.kind), max(end - a.start, 0.05), left=a.start, height=0.7,
                color=LEVEL_COLOURS[a.level], edgecolor="none")
    ax.set_yticks(range(len(kinds)), kinds, fontsize=7)
    ax.set_ylim(-0.6, len(kinds) - 0.4)
    ax.invert_yaxis()
    for level in ALERT_LEVELS:  # a legend of the levels, even those no alert reached
        ax.barh(0, 0, color=LEVEL_COLOURS[level], label=level)
    ax.set_ylabel("alerts")
    return [ax]


# (title, has data, draw: returns the axes whose artists the panel's legend lists): the panels in page order
Panel = tuple[str, Callable[[Run], bool], Callable]
PANELS: tuple[Panel, ...] = (
    ("eye closure", lambda r: r.has(r.closed_prob), _eyes),
    ("PERCLOS and KSS", lambda r: r.has(r.perclos) or r.has(r.kss), _drowsiness),
    ("head pose against the road ahead", lambda r: r.has(r.yaw) or r.has(r.pitch), _head),
    ("mouth opening and yawns", lambda r: r.has(r.mar), _mouth),
    ("stress, voice arousal and heart rate",
     lambda r: r.has(r.stress) or r.has(r.voice_arousal) or r.has(r.hr_bpm), _stress),
    ("emotion (face, over its window)", lambda r: r.has(r.emotion), _emotion),
    ("labelled events (labels.json), to compare with the panels above", lambda r: bool(r.labelled), _labelled),
    ("alerts", lambda r: bool(r.alerts), _alerts),
)


def panels_for(run: Run) -> list[str]:
    """The titles of the panels this run has data for, in page order."""
    return [title for title, has, _ in PANELS if has(run)]


def timeline_svg(run: Run) -> str:
    """The run's panels as one SVG document (text), time in seconds along the bottom."""
    import matplotlib
    from matplotlib.figure import Figure

    # fixed element ids: the same run gives the same bytes; text as text (searchable, smaller), in the browser's font
    with matplotlib.rc_context({"svg.hashsalt": "dms report", "svg.fonttype": "none"}):
        return _timeline_svg(run, Figure)


def _timeline_svg(run: Run, Figure) -> str:
    chosen = [(title, draw) for title, has, draw in PANELS if has(run)]
    fig = Figure(figsize=(WIDTH_IN, PANEL_HEIGHT_IN * max(1, len(chosen))), layout="constrained")
    axes = fig.subplots(max(1, len(chosen)), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (title, draw) in zip(axes, chosen):
        drawn = draw(ax, run)
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(alpha=0.3, lw=0.5)
        for a in drawn:
            a.tick_params(labelsize=7)
        handles = [h for a in drawn for h in a.get_legend_handles_labels()[0]]
        labels = [lb for a in drawn for lb in a.get_legend_handles_labels()[1]]
        if handles:  # beside the panel, clear of its data; further out past a second y axis
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.07 if len(drawn) > 1 else 1.005, 1.0),
                      fontsize=7, frameon=False)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(run.start, max(run.end, run.start + 1.0))
    out = io.StringIO()
    fig.savefig(out, format="svg")
    svg = out.getvalue()
    # inline in HTML: without the XML prolog and doctype, and without the RDF metadata (its date would make every
    # page differ, and nothing reads it)
    return re.sub(r"<metadata>.*?</metadata>\s*", "", svg[svg.index("<svg"):], count=1, flags=re.S)
