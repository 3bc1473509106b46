"""MicrophoneSource's callback, overflow counting, device choice and reopen logic, against a PyAudio stand-in.

The stand-in has the interface of the pyaudio module (PyAudio(), get_device_count, get_device_info_by_index,
get_default_input_device_info, open(..., stream_callback=...), stream start/is_active/close, terminate): the
real one cannot deliver audio on a machine without a sound device (that case is tests/integration).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from edge.config import AudioConfig
from edge.sources.audio import MicrophoneSource
from tests import polling

wait_until = functools.partial(polling.wait_until, timeout=10.0)

USB_MIC = {"name": "USB PnP Sound Device: Audio (hw:1,0)", "maxInputChannels": 1}
HDMI = {"name": "vc4-hdmi: MAI PCM (hw:0,0)", "maxInputChannels": 0}
DEFAULT = {"name": "default", "maxInputChannels": 32}


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class FakeStream:
    def __init__(self, callback: Any, kwargs: dict[str, Any]):
        self.callback = callback
        self.kwargs = kwargs
        self.active = False
        self.closed = False

    def start_stream(self) -> None:
        self.active = True

    def is_active(self) -> bool:
        return self.active

    def close(self) -> None:
        self.active = False
        self.closed = True

    def deliver(self, samples: np.ndarray, status: int = 0) -> tuple:
        # What PortAudio's thread does with each buffer.
        return self.callback(samples.astype("<i2").tobytes(), len(samples), {}, status)


class FakePyAudio:
    def __init__(self, backend: FakeBackend):
        self.backend = backend
        self.devices = [dict(d, index=i) for i, d in enumerate(backend.devices)]
        self.terminated = False

    def get_device_count(self) -> int:
        return len(self.devices)

    def get_device_info_by_index(self, i: int) -> dict[str, Any]:
        return self.devices[i]

    def get_default_input_device_info(self) -> dict[str, Any]:
        for d in self.devices:
            if d["maxInputChannels"] > 0:
                return d
        raise OSError(-9996, "No Default Input Device Available")

    def open(self, **kwargs: Any) -> FakeStream:
        if self.backend.open_error is not None:
            raise self.backend.open_error
        stream = FakeStream(kwargs.pop("stream_callback"), kwargs)
        self.backend.streams.append(stream)
        return stream

    def terminate(self) -> None:
        self.terminated = True


class FakeBackend:
    """Stands in for the pyaudio module; `devices` is what the next PyAudio() instance finds."""

    paInt16 = 8
    paContinue = 0
    paInputOverflow = 2

    def __init__(self, devices: list[dict[str, Any]]):
        self.devices = devices
        self.open_error: Exception | None = None
        self.instances: list[FakePyAudio] = []
        self.streams: list[FakeStream] = []
        self._lock = threading.Lock()

    def PyAudio(self) -> FakePyAudio:  # noqa: N802 - pyaudio's name
        with self._lock:
            pa = FakePyAudio(self)
            self.instances.append(pa)
            return pa


def settings(**kw: Any) -> AudioConfig:
    return AudioConfig(**{"enabled": True, "reopen_initial_s": 0.01, "reopen_max_s": 0.02, "stall_timeout_s": 2.0,
                          **kw})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend([HDMI, USB_MIC, DEFAULT])


@pytest.fixture
def mic(backend: FakeBackend, clock: FakeClock) -> Iterator[MicrophoneSource]:
    source = MicrophoneSource(settings(device="usb pnp"), clock=clock, backend=backend)
    yield source
    source.stop()


def started_stream(backend: FakeBackend, count: int = 1) -> FakeStream:
    assert wait_until(lambda: len(backend.streams) >= count and backend.streams[count - 1].active)
    return backend.streams[count - 1]


def test_opens_the_named_device_at_16k_mono(mic: MicrophoneSource, backend: FakeBackend) -> None:
    assert mic.health().state == "starting"
    mic.start()
    stream = started_stream(backend)
    assert stream.kwargs == {
        "format": 8,
        "channels": 1,
        "rate": 16000,
        "input": True,
        "input_device_index": 1,
        "frames_per_buffer": 320,
        "start": False,
    }
    status = mic.health()
    assert status.state == "starting" and status.metrics["device"] == USB_MIC["name"]  # open, no audio yet
    assert status.metrics["configured_device"] == "usb pnp"


def test_one_capture_buffer_is_one_chunk_of_the_config(backend: FakeBackend) -> None:
    with MicrophoneSource(settings(chunk_ms=30, ring_s=5.0), backend=backend) as mic:
        assert started_stream(backend).kwargs["frames_per_buffer"] == 480
        assert mic.ring.capacity == 5 * 16000  # and the ring holds ring_s of audio


def test_disabled_in_the_config_it_starts_nothing(backend: FakeBackend) -> None:
    with MicrophoneSource(settings(enabled=False), backend=backend) as mic:
        health = mic.health()
        assert health.state == "disabled" and mic._thread is None and backend.instances == []
        assert health.detail == "audio disabled in the config ([audio] enabled = false)"
    assert mic.health().state == "disabled"


def test_callback_writes_the_ring_and_counts_overflows(
    mic: MicrophoneSource, backend: FakeBackend, clock: FakeClock
) -> None:
    mic.start()
    stream = started_stream(backend)
    first = np.arange(320, dtype=np.int16)
    assert stream.deliver(first) == (None, backend.paContinue)
    clock.t += 0.02
    second = -np.arange(320, dtype=np.int16)
    assert stream.deliver(second, status=backend.paInputOverflow) == (None, backend.paContinue)
    chunk = mic.ring.newest(640)
    np.testing.assert_array_equal(chunk.samples, np.concatenate([first, second]))
    assert chunk.t_end == clock.t and chunk.t_start == pytest.approx(100.0 - 319 / 16000)
    status = mic.health()
    m = status.metrics
    assert (status.state, status.detail, m["samples"], m["overflows"], status.errors) == ("ok", None, 640, 1, 0)
    assert m["overrun"] == 0 and m["last_audio_age_s"] == 0.0
    assert m["overflows"] == 1 and m["errors"] == 0


def test_a_failing_callback_never_raises_into_portaudio(mic: MicrophoneSource, backend: FakeBackend) -> None:
    mic.start()
    stream = started_stream(backend)
    assert stream.callback(b"\x01\x02\x03", 1, {}, 0) == (None, backend.paContinue)  # odd byte count
    assert mic.health().errors == 1


def test_a_dead_stream_is_reopened(mic: MicrophoneSource, backend: FakeBackend) -> None:
    mic.start()
    first = started_stream(backend)
    first.deliver(np.zeros(320, dtype=np.int16))
    first.active = False  # PortAudio stopped the stream (device error)
    second = started_stream(backend, 2)
    assert first.closed and backend.instances[0].terminated  # released before reopening
    second.deliver(np.ones(320, dtype=np.int16))
    assert wait_until(lambda: mic.health().state == "ok")
    status = mic.health()
    assert status.reopens == 1 and status.errors == 1 and status.metrics["samples"] == 640
    assert len(backend.instances) == 2  # a fresh PyAudio per opening rescans the devices


def test_a_stalled_stream_is_reported_and_reopened(
    backend: FakeBackend, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A long first backoff keeps the "unavailable" report in place while the test looks at it.
    mic = MicrophoneSource(settings(reopen_initial_s=1.0, reopen_max_s=1.0), clock=clock, backend=backend).start()
    first = started_stream(backend)
    first.deliver(np.zeros(320, dtype=np.int16))
    clock.t += 5.0  # no callback for longer than stall_timeout_s: an unplugged USB mic goes quiet
    status = mic.health()  # before the thread notices
    assert status.state == "unavailable" and "no audio for 5.0 s" in status.detail
    second = started_stream(backend, 2)
    assert first.closed
    assert any("no audio for" in r.getMessage() for r in caplog.records)
    assert wait_until(lambda: mic.health().state == "starting")  # the new opening waits for its first callback
    second.deliver(np.zeros(320, dtype=np.int16))
    assert mic.health().state == "ok" and mic.health().reopens == 1
    mic.stop()


def test_device_vanishes_then_returns(mic: MicrophoneSource, backend: FakeBackend) -> None:
    mic.start()
    first = started_stream(backend)
    first.deliver(np.zeros(320, dtype=np.int16))
    backend.devices = [HDMI]  # unplugged: the next PortAudio scan has no input
    first.active = False
    assert wait_until(lambda: "no sound input device" in (mic.health().detail or ""))
    status = mic.health()
    assert status.state == "unavailable"
    tries = len(backend.instances)
    assert wait_until(lambda: len(backend.instances) > tries + 2)  # keeps retrying
    backend.devices = [HDMI, USB_MIC]  # plugged in again
    started_stream(backend, 2).deliver(np.zeros(320, dtype=np.int16))
    assert wait_until(lambda: mic.health().state == "ok")
    assert mic.health().reopens == 1


@pytest.mark.parametrize(
    "device, index, name",
    [(None, 1, USB_MIC["name"]), (2, 2, "default"), ("DEFAULT", 2, "default"), ("hw:1", 1, USB_MIC["name"])],
)
def test_device_choice(backend: FakeBackend, device: str | int | None, index: int, name: str) -> None:
    with MicrophoneSource(settings(device=device), backend=backend) as mic:
        stream = started_stream(backend)
        assert stream.kwargs["input_device_index"] == index
        assert mic.health().metrics["device"] == name


@pytest.mark.parametrize(
    "device, message",
    [("webcam", "no input device name contains it; inputs: 1: 'USB PnP"), (0, "no input device with that index")],
)
def test_unknown_device_is_reported_with_the_inputs(backend: FakeBackend, device: str | int, message: str) -> None:
    with MicrophoneSource(settings(device=device), backend=backend) as mic:
        assert wait_until(lambda: mic.health().state == "unavailable")
        assert message in mic.health().detail
        assert backend.streams == []


def test_open_errors_are_reported_and_retried(backend: FakeBackend) -> None:
    backend.open_error = OSError(-9997, "Invalid sample rate")
    mic = MicrophoneSource(settings(), backend=backend).start()
    assert wait_until(lambda: len(backend.instances) >= 3)
    status = mic.health()
    assert status.state == "unavailable" and "Invalid sample rate" in status.detail
    assert status.errors >= 2 and all(pa.terminated for pa in backend.instances[:-1])
    mic.stop()
    assert mic.health().state == "stopped"
    assert not mic._thread.is_alive()


def test_without_pyaudio_the_status_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyaudio", None)  # `import pyaudio` raises ImportError
    with MicrophoneSource(settings()) as mic:
        assert wait_until(lambda: mic.health().state == "unavailable")
        assert "edge-dms[audio]" in mic.health().detail


def test_start_twice_is_an_error(backend: FakeBackend) -> None:
    with MicrophoneSource(settings(), backend=backend) as mic:
        with pytest.raises(RuntimeError):
            mic.start()
