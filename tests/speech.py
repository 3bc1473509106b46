"""Real synthesised speech for the audio tests: espeak-ng, resampled to 16 kHz mono 16-bit by sox."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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
