"""The report as one self-contained HTML page: the summary tables, the timelines inline as SVG, the alert list.

Nothing is fetched when it is opened (no script, font or stylesheet from elsewhere): a report is read on a
laptop in a depot as well as on a desk.
"""

from __future__ import annotations

from html import escape

from edge.report.plots import LEVEL_COLOURS, timeline_svg
from edge.report.run import Run
from edge.report.summary import Summary, summarise

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
.source { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.tables { display: flex; flex-wrap: wrap; gap: 2.5em; }
.level { display: inline-block; padding: 0 0.5em; border-radius: 0.3em; color: #fff; }
svg { max-width: 100%; height: auto; }
"""


def _table(head: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' if i >= numeric_from else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _level(level: str) -> str:
    return f'<span class="level" style="background:{LEVEL_COLOURS[level]}">{escape(level)}</span>'


def _overview(s: Summary) -> str:
    rows = [
        ["duration", f"{s.duration_s:.1f} s"],
        ["state messages", str(s.states)],
        ["face found", f"{s.face_found_pct:.1f} %"],
        ["eyes visible (with a face)", "-" if s.eyes_visible_pct is None else f"{s.eyes_visible_pct:.1f} %"],
        ["eye closures", str(s.closures)],
        ["off-road glances", f"{s.off_road_spans} ({s.off_road_s:.1f} s)"],
    ]
    coverage = [[escape(k), f"{v:.1f} %"] for k, v in s.coverage_pct.items()]
    episodes = [[escape(k.replace("_", " ")), str(v)] for k, v in s.episodes.items()]
    return ('<div class="tables">'
            + _table(["run", ""], rows)
            + _table(["modality", "coverage"], coverage)
            + (_table(["episodes", "count"], episodes) if episodes else "")
            + "</div>")


def _alert_tables(run: Run, s: Summary) -> str:
    if not run.alerts:
        return "<p>No alert was raised.</p>"
    per_kind = [[escape(k.kind), str(k.count), f"{k.total_s:.1f} s",
                 " ".join(f"{_level(level)}&nbsp;{n}" for level, n in k.levels.items() if n), str(k.acknowledged)]
                for k in s.alerts]
    each = [[f"{a.start:.1f}", "open at the end" if a.end is None else f"{a.end:.1f}", escape(a.kind),
             _level(a.level), "yes" if a.acknowledged else ""] for a in run.alerts]
    return (_table(["kind", "alerts", "total time", "highest level reached", "acknowledged"], per_kind)
            + "<h2>Every alert</h2>"
            + _table(["start (s)", "end (s)", "kind", "highest level", "acknowledged"], each, numeric_from=9))


def render(run: Run, title: str, source: str) -> str:
    """The whole page for a run."""
    s = summarise(run)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{escape(title)}</h1>
<p class="source">{escape(source)}</p>
<h2>Summary</h2>
{_overview(s)}
<h2>Alerts</h2>
{_alert_tables(run, s)}
<h2>Timelines</h2>
{timeline_svg(run)}
</body></html>
"""
