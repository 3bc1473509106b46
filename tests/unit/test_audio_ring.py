"""The audio ring: newest-N across the wrap, exact overrun accounting, per-write times, and concurrent use."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edge.config import AudioConfig
from edge.sources.audio import AudioRing
from edge.sources.audio_ring import ring_for

RATE = 16000


def ramp(start: int, n: int) -> np.ndarray:
    # Sample value = its position (mod 30000): any sample out of place or torn shows.
    return ((start + np.arange(n)) % 30000).astype(np.int16)


def write_ramp(ring: AudioRing, sizes: list[int], t0: float = 0.0) -> int:
    pos = ring.written
    for n in sizes:
        ring.write(ramp(pos, n), t0 + (pos + n - 1) / RATE)
        pos += n
    return pos


def test_newest_returns_exactly_the_last_samples_across_the_wrap() -> None:
    ring = AudioRing(100, RATE)
    assert ring.newest(10) is None
    total = write_ramp(ring, [37] * 8 + [5])  # 301 samples: the ring wrapped three times
    for n in (1, 50, 63, 100):
        chunk = ring.newest(n)
        assert chunk is not None
        np.testing.assert_array_equal(chunk.samples, ramp(total - n, n))
        assert chunk.position == total - n
    assert len(ring.newest(500).samples) == 100  # never more than the ring holds
    assert ring.newest(0) is None


def test_overrun_adds_up_exactly_when_the_reader_falls_behind() -> None:
    ring = AudioRing(100, RATE)
    write_ramp(ring, [250])  # one write longer than the ring keeps only its tail
    chunk = ring.read_new()
    np.testing.assert_array_equal(chunk.samples, ramp(150, 100))
    assert ring.overrun == 150
    write_ramp(ring, [30])
    assert len(ring.read_new().samples) == 30
    assert ring.overrun == 150  # read in time: nothing lost
    assert ring.read_new() is None
    write_ramp(ring, [60, 60])  # 120 unread in a ring of 100
    chunk = ring.read_new()
    np.testing.assert_array_equal(chunk.samples, ramp(300, 100))
    assert ring.overrun == 170
    assert ring.written == 400


def test_overrun_accounting_holds_for_any_sequence() -> None:
    rng = np.random.default_rng(7)
    ring = AudioRing(97, RATE)
    read = 0
    expected = 0  # next position the reader should see
    for _ in range(2000):
        if rng.random() < 0.6:
            write_ramp(ring, [int(rng.integers(1, 60))])
        else:
            chunk = ring.read_new()
            if chunk is not None:
                assert chunk.position >= expected  # a jump forward only over overwritten samples
                np.testing.assert_array_equal(chunk.samples, ramp(chunk.position, len(chunk.samples)))
                read += len(chunk.samples)
                expected = chunk.position + len(chunk.samples)
        assert read + ring.overrun + (ring.written - max(expected, ring.written - ring.capacity)) == ring.written


def test_since_reports_what_was_overwritten() -> None:
    ring = AudioRing(100, RATE)
    write_ramp(ring, [180])
    assert ring.overrun == 80  # the read_new() cursor's loss
    chunk, lost = ring.since(50)
    assert lost == 30 and chunk.position == 80
    np.testing.assert_array_equal(chunk.samples, ramp(80, 100))
    chunk, lost = ring.since(170)
    assert lost == 0 and len(chunk.samples) == 10
    assert ring.since(180) == (None, 0)
    assert ring.overrun == 80  # since() moves no cursor and counts nothing


def test_times_follow_each_write_even_across_a_gap() -> None:
    ring = AudioRing(1000, RATE)
    ring.write(ramp(0, 160), 1.0)
    ring.write(ramp(160, 160), 5.0)  # e.g. after a reopen: 4 s of nothing in between
    chunk = ring.newest(320)
    assert chunk.t_start == pytest.approx(1.0 - 159 / RATE)
    assert chunk.t_end == 5.0
    later = ring.newest(100)
    assert later.t_start == pytest.approx(5.0 - 99 / RATE)
    assert ring.newest_t == 5.0 and AudioRing(10, RATE).newest_t is None


def test_old_times_are_forgotten_with_their_samples() -> None:
    ring = AudioRing(100, RATE)
    for i in range(50):
        ring.write(ramp(i * 20, 20), float(i))
    chunk = ring.newest(100)
    assert chunk.t_end == 49.0
    assert chunk.t_start == pytest.approx(45.0 - 19 / RATE)  # samples 900..919 were written at t=45
    assert len(ring._blocks) <= 6  # only the writes still in the ring keep their time


def test_concurrent_writer_and_readers_never_see_torn_data() -> None:
    ring = AudioRing(257, RATE)
    writes = 20000
    done = threading.Event()
    problems: list[str] = []
    read_total = [0]

    def writer() -> None:
        rng = np.random.default_rng(1)
        pos = 0
        for _ in range(writes):
            n = int(rng.integers(1, 120))
            ring.write(ramp(pos, n), (pos + n - 1) / RATE)
            pos += n
        done.set()

    def cursor_reader() -> None:
        expected = 0
        while True:
            finished = done.is_set()
            chunk = ring.read_new()
            if chunk is not None:
                if chunk.position < expected or not np.array_equal(
                    chunk.samples, ramp(chunk.position, len(chunk.samples))
                ):
                    problems.append(f"read_new at {chunk.position}")
                    return
                if chunk.t_end != pytest.approx((chunk.position + len(chunk.samples) - 1) / RATE):
                    problems.append(f"time at {chunk.position}")
                    return
                expected = chunk.position + len(chunk.samples)
                read_total[0] += len(chunk.samples)
            elif finished:
                return

    def newest_reader() -> None:
        while not done.is_set():
            chunk = ring.newest(200)
            if chunk is not None and not np.array_equal(chunk.samples, ramp(chunk.position, len(chunk.samples))):
                problems.append(f"newest at {chunk.position}")
                return

    threads = [threading.Thread(target=f) for f in (writer, cursor_reader, newest_reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert problems == []
    assert read_total[0] + ring.overrun == ring.written


def test_the_audio_config_is_validated_and_sizes_the_ring() -> None:
    ring = ring_for(AudioConfig(ring_s=3.0, segment_s=2.0, hop_s=1.0, chunk_ms=30))
    assert ring.capacity == 48000 and ring.sample_rate == RATE
    with pytest.raises(ValueError, match="sample_rate"):
        AudioConfig(sample_rate=44100)  # no such key: the audio pipeline is pinned to 16 kHz
    with pytest.raises(ValueError, match="chunk_ms"):
        AudioConfig(chunk_ms=0)
    with pytest.raises(ValueError, match="ring_s"):
        AudioConfig(ring_s=0.001)
    with pytest.raises(ValueError, match="capacity"):
        AudioRing(0)
