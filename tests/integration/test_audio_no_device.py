"""The real PyAudio on a machine without a sound device: the source starts, says why it has no audio, retries,
keeps PortAudio's ALSA noise off stderr, and stops cleanly."""

from __future__ import annotations

import logging

import pytest

from edge.config import AudioConfig
from edge.native_stderr import native_stderr_to_log
from edge.sources.audio import MicrophoneSource
from tests.polling import wait_until

pyaudio = pytest.importorskip("pyaudio", reason="pyaudio is the optional `audio` extra: pip install '.[audio]'")


def _device_count() -> int:
    with native_stderr_to_log(logging.getLogger("test"), "portaudio", lambda line: logging.DEBUG):
        pa = pyaudio.PyAudio()
        try:
            return pa.get_device_count()
        finally:
            pa.terminate()


def test_no_sound_device(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    if _device_count() > 0:
        pytest.skip("this machine has a sound device; the test is for one without")
    capfd.readouterr()
    caplog.set_level(logging.DEBUG, logger="edge.audio")
    mic = MicrophoneSource(AudioConfig(enabled=True, reopen_initial_s=0.05, reopen_max_s=0.1))
    mic.start()
    try:
        assert wait_until(lambda: mic.health().state == "unavailable", timeout=20.0)
        assert wait_until(lambda: mic.health().errors >= 2, timeout=20.0)  # it keeps retrying
        status = mic.health()
        assert "no sound device" in status.detail
        assert status.metrics["samples"] == 0 and status.metrics["device"] is None
    finally:
        mic.stop()
    assert mic.health().state == "stopped"
    assert not mic._thread.is_alive()
    stderr = capfd.readouterr().err
    assert "ALSA lib" not in stderr and "jack server" not in stderr
    # The noise went to the log at debug level instead; the reason is logged once as a warning, then at debug.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "no sound device" in r.getMessage()]
    assert len(warnings) == 1
