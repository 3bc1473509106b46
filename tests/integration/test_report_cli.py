"""`dms report` on a real clip: from the RUN.jsonl of `dms replay`, and from the video replayed in-process."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import browser

ROOT = Path(__file__).resolve().parents[2]
CLIP = "WolfgangLanger_Pexels.mp4"


def dms(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, cwd=ROOT)


def alert_rows(page: str) -> list[tuple[str, str]]:
    """(kind, highest level) of every row of the page's "Every alert" table."""
    table = page.split("<h2>Every alert</h2>", 1)[1].split("</table>", 1)[0]
    return re.findall(r"<td>([a-z_]+)</td><td><span class=\"level\"[^>]*>([a-z]+)</span>", table)


@pytest.fixture(scope="module")
def run_jsonl(clip, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "wolfgang.jsonl"
    proc = dms("replay", str(clip(CLIP)), "--jsonl", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return out


def test_report_of_a_replay_jsonl_has_its_alerts_and_panels(run_jsonl, tmp_path):
    out = tmp_path / "sub" / "report.html"
    proc = dms("report", str(run_jsonl), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text(encoding="utf-8")
    starts = [json.loads(line)["payload"] for line in run_jsonl.read_text().splitlines()]
    starts = [p for p in starts if p.get("type") == "start"]
    rows = alert_rows(page)
    assert [kind for kind, _ in rows] == [p["kind"] for p in sorted(starts, key=lambda p: p["started_at"])]
    assert ("sleep", "critical") in rows  # the clip's long closure (test_replay_cli)
    for panel in ("eye closure", "head pose against the road ahead", "mouth opening and yawns", "alerts"):
        assert f">{panel}<" in page  # the SVG's panel titles are text
    assert "labelled events" not in page and "<script" not in page
    assert f"{len(rows)} alerts" in proc.stderr


def test_report_of_the_video_itself_matches_the_jsonl_report(clip, run_jsonl, tmp_path):
    from_video, from_jsonl = tmp_path / "video.html", tmp_path / "jsonl.html"
    assert dms("report", str(clip(CLIP)), "--out", str(from_video)).returncode == 0
    assert dms("report", str(run_jsonl), "--out", str(from_jsonl)).returncode == 0
    assert alert_rows(from_video.read_text()) == alert_rows(from_jsonl.read_text())


def test_report_draws_the_clips_labels(run_jsonl, tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps([{"clip": CLIP, "fps": 24.0, "frames": 472, "events": [
        {"kind": "eyes_closed", "start_frame": 30, "end_frame": 120}]}]))
    out = tmp_path / "labelled.html"
    proc = dms("report", str(run_jsonl), "--labels", str(labels), "--clip", CLIP, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "labelled events (labels.json)" in out.read_text()

    missing = dms("report", str(run_jsonl), "--labels", str(labels), "--out", str(tmp_path / "no.html"))
    assert missing.returncode == 2 and "no entry for wolfgang.jsonl" in missing.stderr
    assert not (tmp_path / "no.html").exists()


def test_report_refuses_bad_input_with_a_clear_message(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"topic": "state", "payload": {"t": 0}}\nnot json\n')
    proc = dms("report", str(bad), "--out", str(tmp_path / "r.html"))
    assert proc.returncode == 2 and "bad.jsonl:2" in proc.stderr
    proc = dms("report", str(tmp_path / "nothing.mp4"))
    assert proc.returncode == 2 and "no such file" in proc.stderr


@pytest.mark.skipif(browser.available() is not None, reason=str(browser.available()))
def test_report_renders_offline_in_headless_chromium(run_jsonl, tmp_path):
    """The page in a real browser with no network: the timelines are drawn, every alert is a row, and nothing was
    requested from anywhere but the file itself."""
    from selenium.webdriver.common.by import By

    out = tmp_path / "report.html"
    assert dms("report", str(run_jsonl), "--out", str(out)).returncode == 0
    with browser.chromium() as driver:
        driver.get(out.as_uri())
        svg = driver.find_element(By.CSS_SELECTOR, "svg")
        assert svg.size["width"] > 600 and svg.size["height"] > 400  # drawn, not an empty box
        titles = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "svg text")]
        assert "eye closure" in titles and "alerts" in titles
        rows = driver.find_elements(By.XPATH, "//h2[.='Every alert']/following-sibling::table[1]//tr")
        assert len(rows) - 1 == len(alert_rows(out.read_text()))  # the header row, then one per alert
        requested = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert requested == []
        shot = browser.screenshot(driver, "report.png")
    assert shot.stat().st_size > 20_000
