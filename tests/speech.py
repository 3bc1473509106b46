"""Real synthesised speech for the audio tests: espeak-ng, resampled to 16 kHz mono 16-bit by sox; and a WAV
writer for signals built from it."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

TEXT = "The quick brown fox jumps over the lazy dog. I am driving home now and I feel a little tired today."


def synthesise(folder: Path, text: str = TEXT, name: str = "speech") -> Path:
    """A 16 kHz mono WAV of `text` in `folder`; skips the test where espeak-ng or sox is missing."""
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (apt-get install espeak-ng sox)")
    raw, wav = folder / f"{name}.raw.wav", folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True, capture_output=True)
    raw.unlink()
    return wav


def write_wav(path: Path, signal: np.ndarray, rate: int = 16000) -> Path:
    """A mono 16-bit WAV of `signal` (rounded and clipped to int16)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.clip(np.round(signal), -32768, 32767).astype("<i2").tobytes())
    return path
