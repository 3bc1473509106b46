"""`dms bench`'s scenes on the real clips and models: three frame sizes, an empty seat, a driver who sits down.
Behaviour only: what is counted and reported, never how fast."""

import pytest

from edge.bench import scenes
from edge.bench.core import decode
from edge.stats import StageTimer


def test_the_three_frame_sizes_are_each_timed_with_their_stages_in_colour_and_mono(config, clip):
    frames, _ = decode(clip("WolfgangLanger_Pexels.mp4"), 14, StageTimer())
    gray = scenes.mono(frames)
    assert [f.image.shape for f in gray] == [(360, 640)] * 14 and [f.t for f in gray] == [f.t for f in frames]
    parts = scenes.resolution_bench(config, {"colour": frames, "mono": gray}, passes=2)
    assert list(parts) == ["colour", "mono"]
    for part in parts.values():
        assert part["source_size"] == [640, 360] and part["frames"] == 14 and part["passes"] == 2
        rows = part["sizes"]
        assert [tuple(r["frame_size"]) for r in rows] == [(640, 360), (1280, 720), (1920, 1080)]
        for row in rows:
            assert len(row["cpu_ms_per_frame_passes"]) == 2 and row["cpu_ms_per_frame"] > 0
            assert row["face_found_pct"] == 100.0  # the same face, whatever the size, in colour or in gray
            assert {"preprocess", "landmarks", "eyes", "vision", "monitor"} <= row["stages_p50_ms"].keys()
            assert row["ratio_to_first"] == pytest.approx(row["cpu_ms_per_frame"] / rows[0]["cpu_ms_per_frame"],
                                                          abs=2e-3)
        assert rows[0]["ratio_to_first"] == 1.0


def test_looped_stretch_keeps_the_clock_running():
    from edge.types import Frame

    stretch = [Frame(None, t, i) for i, t in enumerate((0.0, 0.1, 0.2))]
    frames = scenes.looped(stretch, 0.3, 0.95)
    assert [round(f.t, 6) for f in frames] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert [f.index for f in frames] == list(range(10))


def test_an_empty_seat_is_searched_fewer_times_than_it_is_seen(config, clip):
    vision = config.vision
    part = scenes.empty_seat_bench(config, clip(scenes.EMPTY_SEAT_CLIP), (640, 360), seconds=6.0, passes=1,
                                   tracking_cpu_ms=5.0)
    assert part["face_found_frames"] == 0  # nobody in the seat
    assert part["frame_size"] == [640, 360] and part["search_hz"] == vision.search_hz
    steady_s = part["seconds"] - vision.search_after_s
    # the slow search's grid: its first point, then search_hz, on a ~24 fps clip
    assert part["detector_runs_per_s"] * steady_s == pytest.approx(1 + steady_s * vision.search_hz, abs=1.5)
    assert part["detector_runs_per_s"] < part["frames_per_s"] / 3
    assert part["cpu_ms_per_frame"] > 0 and part["cpu_ms_per_frame_searching"] > 0
    assert part["ratio_to_tracking"] == pytest.approx(part["cpu_ms_per_frame"] / 5.0, abs=1e-3)


def test_an_empty_seat_shorter_than_the_search_delay_is_refused(config, clip):
    with pytest.raises(ValueError, match="search_after_s"):
        scenes.empty_seat_bench(config, clip(scenes.EMPTY_SEAT_CLIP), (640, 360), seconds=1.0, passes=1)


def test_a_driver_who_sits_down_is_found_within_a_search_period(config, clip):
    part = scenes.sit_down_bench(config, clip(scenes.EMPTY_SEAT_CLIP))
    assert part["face_frame"] == 96 and part["bound_s"] == pytest.approx(1.0 / config.vision.search_hz)
    phases = part["latency_phases_s"]
    assert len(phases) >= 4 and None not in phases  # one period of a ~24 fps clip, every phase found
    assert part["latency_s"] == phases[0] and part["latency_worst_s"] == max(phases)
    frame_s = 1.0 / 24
    assert all(0 <= s <= part["bound_s"] + frame_s for s in phases)
