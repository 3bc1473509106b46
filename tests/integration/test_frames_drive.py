"""tools/frames_drive.py on a real clip: a lossless drive with the clip's frames and times, which replays exactly as
the clip does (what `make check-aarch64` relies on to give both machines the same pixels)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "frames_drive.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_the_drive_holds_the_clips_frames_at_its_times_and_replays_as_it(clip, tmp_path):
    video = clip("noface_face.mov")  # variable frame rate: its uneven times must survive
    drive = tmp_path / "drive"
    done = run(str(TOOL), str(video), str(drive))
    assert done.returncode == 0, done.stderr
    info = json.loads((drive / "drive.json").read_text())["streams"]["video"]
    assert info["codec"] == "FFV1" and info["frames"] == 169
    hashes = [run(str(TOOL), "--hash", str(path)) for path in (video, drive)]
    assert all(h.returncode == 0 for h in hashes), [h.stderr for h in hashes]
    assert hashes[0].stdout == hashes[1].stdout and hashes[0].stdout.endswith(" 169 frames\n")

    runs = [tmp_path / "clip.jsonl", tmp_path / "drive.jsonl"]
    for path, out in zip((video, drive), runs):
        done = run("-m", "edge.cli", "replay", str(path), "--jsonl", str(out), "--quiet")
        assert done.returncode == 0, done.stderr
    compared = run(str(ROOT / "tools" / "compare_runs.py"), "--exact", *map(str, runs))
    assert compared.returncode == 0, compared.stdout
    assert compared.stdout.rstrip().splitlines()[-1].startswith("PASS")


def test_an_existing_drive_is_never_overwritten(clip, tmp_path):
    video = clip("noface_face.mov")
    drive = tmp_path / "drive"
    assert run(str(TOOL), str(video), str(drive)).returncode == 0
    before = (drive / "video.mkv").read_bytes()
    again = run(str(TOOL), str(video), str(drive))
    assert again.returncode == 1 and "already holds a drive" in again.stderr
    assert (drive / "video.mkv").read_bytes() == before


def test_bad_input_is_a_clear_error(tmp_path):
    not_video = tmp_path / "notes.txt"
    not_video.write_text("not a video")
    done = run(str(TOOL), str(not_video), str(tmp_path / "drive"))
    assert done.returncode == 1 and "not a readable video" in done.stderr
    assert not (tmp_path / "drive").exists()
    assert run(str(TOOL), "--hash", str(not_video), str(tmp_path / "x")).returncode == 2  # usage error
