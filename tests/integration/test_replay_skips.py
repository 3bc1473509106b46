"""Damaged recordings replay to their end and say what they skipped (issue 20): the real demo clip cut short by bytes
and with bytes garbled in its middle, a drive of real frames whose video is cut short, and a drive whose physio.csv
holds garbage lines. One line on stderr, the RUN.jsonl's last line, exit status 3; `--strict` refuses a malformed
line naming file:line (exit 2); and a part that fails to close leaves the others closed."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import jsonschema
import pytest

from edge.config import Config
from edge.sinks.jsonl import JsonlSink
from edge.sources.recording import DriveWriter
from edge.types import Frame
from tests.conftest import read_frames
from tests.integration.test_replay_cli import REPLAY_SCHEMA, dms, read_jsonl
from tests.physio_signals import clean_stream, write_physio_csv

pytestmark = pytest.mark.media

CLIP, DECLARED, FPS = "WolfgangLanger_Pexels.mp4", 472, 24000 / 1001  # what its container declares


def replayed(path: Path, *args: str) -> tuple:
    """(process, state payloads, the summary line's payload) of `dms replay PATH --jsonl`. Alert ids are left out
    of the states: they derive from the recording's path, which differs between a clip and its damaged copy."""
    out = path.parent / f"{path.name}.jsonl"
    proc = dms("replay", str(path), "--jsonl", str(out), "--quiet", *args)
    messages = read_jsonl(out, None)
    assert messages[-1]["topic"] == "replay", proc.stderr
    jsonschema.validate(messages[-1]["payload"], REPLAY_SCHEMA)
    states = [m["payload"] for m in messages if m["topic"] == "state"]
    for state in states:
        state["alerts"] = [{k: v for k, v in alert.items() if k != "id"} for alert in state["alerts"]]
    return proc, states, messages[-1]["payload"]


@pytest.fixture(scope="module")
def clips(clip, tmp_path_factory) -> Path:
    """The clip whole, cut to its first 60 % of bytes, and with 20 kB of its middle overwritten by random bytes."""
    folder = tmp_path_factory.mktemp("damaged")
    data = clip(CLIP).read_bytes()
    shutil.copy(clip(CLIP), folder / "whole.mp4")
    (folder / "cut.mp4").write_bytes(data[: len(data) * 6 // 10])
    garbled = bytearray(data)
    middle = len(data) // 2
    garbled[middle : middle + 20_000] = random.Random(1).randbytes(20_000)
    (folder / "garbled.mp4").write_bytes(bytes(garbled))
    return folder


@pytest.fixture(scope="module")
def whole(clips) -> list[dict]:
    proc, states, summary = replayed(clips / "whole.mp4")
    assert proc.returncode == 0 and summary["skipped"] == [] and summary["frames"] == DECLARED, proc.stderr
    return states


def test_a_clip_cut_short_replays_what_it_holds_and_says_the_tail_is_missing(clips, whole):
    cut = clips / "cut.mp4"
    proc, states, summary = replayed(cut)
    assert proc.returncode == 3, proc.stderr
    frames = summary["frames"]
    assert 0 < frames < DECLARED and f"{frames} frames" in proc.stderr
    assert summary["skipped"] == [{"file": str(cut), "kind": "missing_frames", "count": DECLARED - frames,
                                   "at_s": [pytest.approx(frames / FPS, abs=0.01)], "lines": [],
                                   "detail": f"the container declares {DECLARED} frames, {frames} arrived"}]
    assert proc.stderr.splitlines()[-1] == (
        f"{cut}: skipped {DECLARED - frames} frames missing at the end, from {frames / FPS:.1f} s "
        f"(the container declares {DECLARED} frames, {frames} arrived)")
    # what it holds is replayed as the whole clip replays it
    assert states == whole[: len(states)] and states[-1]["t"] >= (frames - 1) / FPS - 0.5


def test_frames_that_do_not_decode_are_counted_and_the_replay_goes_on_to_the_end(clips, whole):
    garbled = clips / "garbled.mp4"
    proc, states, summary = replayed(garbled)
    assert proc.returncode == 3, proc.stderr
    [skip] = summary["skipped"]
    lost = DECLARED - summary["frames"]
    assert skip["kind"] == "undecodable_frames" and skip["count"] == lost > 0
    first = skip["at_s"][0]
    assert 0.25 < first / (DECLARED / FPS) < 0.75  # the middle of the file is the middle of the clip
    assert f"{garbled}: skipped {lost} frames that did not decode, the first at {first:.1f} s" in proc.stderr
    # before the damage, the clip's own states; after it, the replay went on to the clip's last state
    before = [s for s in states if s["t"] < first - 1.0]
    assert before and before == whole[: len(before)]
    assert states[-1]["t"] == whole[-1]["t"] and len(states) == len(whole)


def test_a_drive_whose_video_is_cut_short_says_how_many_timestamped_frames_are_missing(clip, tmp_path):
    drive = tmp_path / "drive"
    with DriveWriter(drive, device_id="test", fps=10.0, frame_size=(640, 360)) as writer:
        for i, image in enumerate(read_frames(clip(CLIP))[:120]):
            writer.write_frame(Frame(image, i * 0.1, i))
    video = drive / "video.mkv"
    video.write_bytes(video.read_bytes()[: video.stat().st_size * 6 // 10])
    proc, states, summary = replayed(drive)
    assert proc.returncode == 3, proc.stderr
    frames = summary["frames"]
    assert 0 < frames < 120
    assert summary["skipped"] == [{"file": str(video), "kind": "missing_frames", "count": 120 - frames,
                                   "at_s": [pytest.approx(frames * 0.1)], "lines": [],
                                   "detail": f"video_ts.csv has 120 rows, {frames} arrived"}]
    assert proc.stderr.splitlines()[-1] == (f"{drive}: skipped video.mkv: {120 - frames} frames missing at the end, "
                                            f"from {frames * 0.1:.1f} s (video_ts.csv has 120 rows, {frames} arrived)")


def test_eval_reports_the_skips_of_its_replay_and_of_a_run_jsonl(clips, tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps([{"clip": CLIP, "fps": 24.0, "frames": DECLARED, "events": [
        {"kind": "eyes_closed", "start_frame": 30, "end_frame": 120}]}]))
    cut = clips / "cut.mp4"
    replayed(cut)  # writes cut.mp4.jsonl
    for given in (cut, clips / "cut.mp4.jsonl"):
        proc = dms("eval", str(given), "--labels", str(labels), "--clip", CLIP)
        assert proc.returncode == 3, proc.stderr
        [result] = json.loads(proc.stdout.splitlines()[-1])["clips"]
        assert any(limit.startswith(f"the replay skipped {cut}: ") and "missing at the end" in limit
                   for limit in result["limits"])
        assert f"{given}: skipped" in proc.stderr


# -- physio.csv ---------------------------------------------------------------------------------------------------

PHYSIO_SECONDS, PHYSIO_FPS = 40.0, 5.0
CONFIG = "[physio]\nwindow_s = 20.0\nhop_s = 5.0\nbaseline_s = 10.0\n"  # as tests/integration/test_replay_physio.py
# (after which good line, the garbage, why it is skipped)
GARBAGE = [
    (100, b"\x00\xff\xfe#garbage from a loose connector", "not ASCII"),
    (1500, b"6.0,512", "expected 3 fields (got 2)"),
    (2500, b"10.0,512,300,7", "expected 3 fields (got 4)"),
    (3000, b"12.0,abc,300", "ecg is not a plain finite number ('abc')"),
    (3500, b"14.0,NaN,300", "ecg is not a plain finite number ('NaN')"),
    (4000, b"16.0,512,inf", "gsr is not a plain finite number ('inf')"),
    (5000, b"20.0,512," + b"3" * 10_240, "longer than 256 bytes"),
    (6000, b"1.0,512,300", "t_s 1.0 goes back in time"),
]


@pytest.fixture(scope="module")
def physio_drives(clip, tmp_path_factory) -> tuple[Path, Path, list[int]]:
    """Two drives of 40 s of the real clip's frames at 5 fps with the same 250 Hz ECG + GSR: `clean` and `damaged`,
    whose physio.csv has GARBAGE between its good lines; and the garbage's line numbers."""
    root = tmp_path_factory.mktemp("physio")
    clean = root / "clean"
    images = read_frames(clip(CLIP))[::2]
    with DriveWriter(clean, device_id="test", fps=PHYSIO_FPS, frame_size=(640, 360)) as writer:
        for i in range(int(PHYSIO_SECONDS * PHYSIO_FPS)):
            writer.write_frame(Frame(images[i % len(images)], i / PHYSIO_FPS, i))
    write_physio_csv(clean / "physio.csv", clean_stream(PHYSIO_SECONDS)[0])
    damaged = root / "damaged"
    shutil.copytree(clean, damaged)
    good = (clean / "physio.csv").read_bytes().splitlines()
    lines, numbers = [good[0]], []
    for n, line in enumerate(good[1:], 1):
        lines.append(line)
        for after, garbage, _ in GARBAGE:
            if after == n:
                lines.append(garbage)
                numbers.append(len(lines))
    (damaged / "physio.csv").write_bytes(b"\n".join(lines) + b"\n")
    (root / "dms.toml").write_text(CONFIG)
    return clean, damaged, numbers


def test_malformed_physio_lines_are_skipped_and_every_good_line_is_used(physio_drives):
    clean, damaged, numbers = physio_drives
    config = str(clean.parent / "dms.toml")
    proc, clean_states, clean_summary = replayed(clean, "--config", config)
    assert proc.returncode == 0 and clean_summary["skipped"] == [], proc.stderr
    proc, states, summary = replayed(damaged, "--config", config)
    assert proc.returncode == 3, proc.stderr
    # every good sample reached the stage, and nothing else did: the same states as the clean drive's
    assert states == clean_states
    hr = [s["physio"]["hr_bpm"] for s in states if s["physio"]["hr_bpm"] is not None]
    assert hr and hr[-1] == pytest.approx(75.0, abs=2.0)  # the synthetic heart's rate
    assert any(s["physio"]["stress"] is not None for s in states)
    physio = damaged / "physio.csv"
    [skip] = summary["skipped"]
    assert (skip["file"], skip["kind"], skip["count"]) == (str(physio), "malformed_lines", len(GARBAGE))
    assert skip["lines"] == numbers[:5] and skip["detail"] == f"line {numbers[0]}: not ASCII"
    # each at the time of the good sample before it: after good line n, sample n - 1 at (n - 1) / 250 s
    assert skip["at_s"] == [pytest.approx((after - 1) / 250.0) for after, _, _ in GARBAGE[:5]]
    assert proc.stderr.splitlines()[-1] == (
        f"{damaged}: skipped physio.csv: {len(GARBAGE)} malformed lines, the first at {skip['at_s'][0]:.1f} s "
        f"(line {numbers[0]}: not ASCII)")


def test_strict_refuses_the_first_malformed_line_before_any_output(physio_drives, tmp_path):
    _, damaged, numbers = physio_drives
    out = tmp_path / "never.jsonl"
    proc = dms("replay", str(damaged), "--strict", "--jsonl", str(out), "--quiet")
    assert proc.returncode == 2 and not out.exists()
    assert f"{damaged / 'physio.csv'}:{numbers[0]}: not ASCII (--strict)" in proc.stderr
    report = tmp_path / "never.html"
    proc = dms("report", str(damaged), "--strict", "--out", str(report))
    assert proc.returncode == 2 and not report.exists()
    assert f"{damaged / 'physio.csv'}:{numbers[0]}: not ASCII (--strict)" in proc.stderr


def test_report_of_a_damaged_drive_says_what_was_skipped(physio_drives, tmp_path):
    _, damaged, numbers = physio_drives
    out = tmp_path / "report.html"
    proc = dms("report", str(damaged), "--out", str(out), "--config", str(damaged.parent / "dms.toml"))
    assert proc.returncode == 3, proc.stderr
    line = f"skipped physio.csv: {len(GARBAGE)} malformed lines"
    assert line in proc.stderr.splitlines()[-1] and line.replace("physio.csv", str(damaged / "physio.csv")) in \
        out.read_text()


# -- closing ------------------------------------------------------------------------------------------------------

class BrokenOutput:
    """An output whose close fails, as a full disk or a vanished mount would make it fail."""

    def __init__(self, fail_publish: bool = False):
        self.fail_publish = fail_publish

    def publish(self, topic: str, payload: dict) -> None:
        if self.fail_publish:
            raise OSError("no space left on device")

    def close(self) -> None:
        raise OSError("input/output error")


def test_every_part_is_closed_when_one_fails_to(clip, tmp_path, caplog):
    from edge.replay_command import replay_one

    seen = {}

    def outputs(*first):
        def open_sinks(source):
            seen["source"] = source
            seen["jsonl"] = JsonlSink(tmp_path / "out.jsonl")
            yield from first
            yield seen["jsonl"]
        return open_sinks

    # a close that fails after a good replay: the others are closed, and the failure is the command's error
    with pytest.raises(RuntimeError, match="could not close output BrokenOutput: input/output error"):
        replay_one(clip("face_noface.mov"), Config(), outputs(BrokenOutput()), 0.0, progress=False)
    assert seen["jsonl"]._f.closed and not seen["source"]._cap.isOpened()
    assert "at close, could not close output BrokenOutput" in caplog.text
    # a replay that fails: its own error is what the command reports, and everything is closed all the same
    with pytest.raises(OSError, match="no space left"):
        replay_one(clip("face_noface.mov"), Config(), outputs(BrokenOutput(fail_publish=True)), 0.0, progress=False)
    assert seen["jsonl"]._f.closed and not seen["source"]._cap.isOpened()

    # an output that cannot be opened: those opened before it are closed
    def second_fails(source):
        seen["source"] = source
        seen["jsonl"] = JsonlSink(tmp_path / "first.jsonl")
        yield seen["jsonl"]
        raise PermissionError("cannot open the second output")

    with pytest.raises(PermissionError):
        replay_one(clip("face_noface.mov"), Config(), second_fails, 0.0, progress=False)
    assert seen["jsonl"]._f.closed and not seen["source"]._cap.isOpened()
