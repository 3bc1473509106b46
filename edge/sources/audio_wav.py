"""WAV replay: a drive's `audio.wav` (docs/recording.md) as chunks on the drive clock."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge.sources.audio_ring import SAMPLE_RATE, SAMPLE_WIDTH, AudioChunk


class AudioError(Exception):
    """An audio file that cannot be used; the message names it."""


class WavSource:
    """A 16 kHz mono 16-bit WAV (a drive's `audio.wav`) as chunks on the drive clock: sample i is at t0 + i / rate.

    The header is checked when the source is made; each `chunks()` call reads the file again from the start."""

    def __init__(self, path: str | Path, chunk_ms: int = 20, t0: float = 0.0):
        self.path = Path(path)
        if chunk_ms < 1:
            raise ValueError(f"chunk_ms: {chunk_ms}; must be at least 1 ms")
        self.chunk_ms = chunk_ms
        self.t0 = t0
        with self._open() as wav:
            self.frames = wav.getnframes()

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return self.frames / SAMPLE_RATE

    def chunks(self) -> Iterator[AudioChunk]:
        step = SAMPLE_RATE * self.chunk_ms // 1000
        position = 0
        with self._open() as wav:
            while True:
                # A truncated file (a recorder killed mid-write) yields what it holds; the header count may lie.
                data = np.frombuffer(wav.readframes(step), dtype="<i2").astype(np.int16)
                if len(data) == 0:
                    return
                t_start = self.t0 + position / SAMPLE_RATE
                yield AudioChunk(data, t_start, t_start + (len(data) - 1) / SAMPLE_RATE, position, SAMPLE_RATE)
                position += len(data)

    __iter__ = chunks

    def _open(self) -> wave.Wave_read:
        try:
            wav = wave.open(str(self.path), "rb")
        except FileNotFoundError:
            raise AudioError(f"audio file {self.path}: no such file") from None
        except (wave.Error, EOFError) as err:
            raise AudioError(f"audio file {self.path}: not a PCM WAV file ({err})") from None
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        if (rate, channels, width) != (SAMPLE_RATE, 1, SAMPLE_WIDTH):
            wav.close()
            raise AudioError(
                f"audio file {self.path}: {rate} Hz, {channels} channel(s), {8 * width}-bit; expected "
                f"{SAMPLE_RATE} Hz mono 16-bit PCM (convert with `sox IN -r {SAMPLE_RATE} -c 1 -b 16 OUT.wav`)"
            )
        return wav
