"""Cabin audio: the live microphone (PyAudio); the ring and WAV replay are re-exported.

Everything is mono 16 kHz int16 PCM. The microphone's PortAudio callback writes into an AudioRing
(audio_ring.py, sized by ring_for from the [audio] config); the audio worker reads the newest samples from it.
Privacy: audio lives only in the ring; it is never written to disk, logged or published. The capture thread is a
SupervisedSource (supervised.py): on a device error it reports "unavailable" with the reason and reopens with
exponential backoff (a fresh PortAudio instance each time, so a replugged device is found again). Replay reads a
drive's audio.wav with WavSource (audio_wav.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edge.config import AudioConfig
from edge.native_stderr import native_stderr_to_log
from edge.sources.audio_ring import SAMPLE_RATE, SAMPLE_WIDTH, AudioChunk, AudioRing, ring_for
from edge.sources.audio_wav import AudioError, WavSource
from edge.sources.supervised import SourceFailure, SourceState, SupervisedSource
from edge.sources.timing import safe_seconds

__all__ = [
    "SAMPLE_RATE",
    "SAMPLE_WIDTH",
    "AudioChunk",
    "AudioError",
    "AudioRing",
    "MicrophoneSource",
    "WavSource",
    "ring_for",
]

log = logging.getLogger("edge.audio")

_POLL_S = 0.1  # how often the capture thread checks the stream and the stop flag


def _portaudio_noise(line: str) -> int:
    # PortAudio's init probes every ALSA PCM and JACK and reports each miss: routine, not worth a warning.
    return logging.DEBUG


def _import_pyaudio() -> Any:
    try:
        import pyaudio  # the optional `audio` extra
    except ImportError as err:
        raise SourceFailure(
            f"pyaudio is not installed ({err}); install the audio extra: pip install 'edge-dms[audio]'"
        ) from None
    return pyaudio


class MicrophoneSource(SupervisedSource):
    """The live microphone: a named thread ("audio") that keeps a PyAudio input stream open, reopening on failure.

    PortAudio calls `_callback` on its own thread with each buffer; it goes into `ring` stamped with `clock()` at
    the callback (the newest sample's capture time, give or take one buffer of latency). `backend` is the pyaudio
    module, or a stand-in with its interface (tests); by default pyaudio is imported when the thread opens. With
    `cfg.enabled` false the state is "disabled" and start() starts nothing.
    """

    thread_name = "audio"
    _log = log
    _unavailable_note = "cabin audio unavailable"
    _traceback_level = logging.DEBUG
    _disabled_detail = "audio disabled in the config ([audio] enabled = false)"

    def __init__(self, cfg: AudioConfig, clock: Callable[[], float] = time.monotonic, backend: Any = None):
        super().__init__(
            "audio capture",
            clock,
            safe_seconds(cfg.reopen_initial_s, 0.5),
            safe_seconds(cfg.reopen_max_s, 10.0),
            join_timeout_s=5.0,  # the thread closes the stream and PortAudio within _POLL_S
        )
        self.cfg = cfg
        self.ring = ring_for(cfg)
        self._backend = backend
        self._stall_timeout = safe_seconds(cfg.stall_timeout_s, 2.0)
        # Guarded by self._lock.
        self._open = False
        self._opened_t: float | None = None
        self._device: str | None = None  # name of the device last opened
        self._samples = 0  # captured since start, across reopens
        self._overflows = 0  # callbacks flagged paInputOverflow: audio lost before it reached us
        self._delivered = 0  # callbacks since the last open
        self._last_audio_t: float | None = None
        # The backend's paInputOverflow and paContinue, set before each stream opens.
        self._overflow_flag = 0
        self._continue: Any = 0

    @property
    def enabled(self) -> bool:
        return self.cfg.enabled

    # -- SupervisedSource hooks ---------------------------------------------------------------------------------

    def _device_state(self, now: float) -> tuple[SourceState, str | None]:
        if not self._open or self._opened_t is None:
            return "starting", "opening the audio device"
        # Like the thread's own check: quiet since the last callback of this opening, or since it opened.
        since = self._last_audio_t if self._delivered and self._last_audio_t is not None else self._opened_t
        if now - since > self._stall_timeout:  # reported before the thread notices and reopens
            return "unavailable", f"audio device {self._device!r}: no audio for {now - since:.1f} s"
        if not self._delivered:
            return "starting", f"audio device {self._device!r} open, waiting for audio"
        return "ok", None

    def _detail(self, state: SourceState, reason: str | None) -> str | None:
        return "stopped" if state == "stopped" else super()._detail(state, reason)

    def _death_detail(self) -> str:
        return f"audio capture thread stopped unexpectedly ({self._death or 'no reason recorded'})"

    def _metrics(self, now: float) -> dict[str, Any]:
        return {
            "configured_device": self.cfg.device,
            "device": self._device,
            "samples": self._samples,
            "overflows": self._overflows,
            "overrun": self.ring.overrun,  # overwritten in the ring before the worker read them: it fell behind
            "reopens": self._reopens,  # times the device was opened again after a failure
            "errors": self._errors,  # also stalled or dead streams and callback exceptions
            "last_audio_age_s": None if self._last_audio_t is None else max(0.0, now - self._last_audio_t),
        }

    # -- PortAudio's callback thread ----------------------------------------------------------------------------

    def _callback(self, in_data: bytes | None, frame_count: int, time_info: Any, status_flags: int) -> tuple:
        # An exception here would make PyAudio abort the stream; count it instead and let the stall check decide.
        try:
            now = self._clock()
            samples = np.frombuffer(in_data or b"", dtype="<i2")
            self.ring.write(samples, now)
            with self._lock:
                self._samples += len(samples)
                self._delivered += 1
                self._last_audio_t = now
                if status_flags & self._overflow_flag:
                    self._overflows += 1
        except Exception:  # noqa: BLE001
            with self._lock:
                self._errors += 1
            log.debug("audio callback failed", exc_info=True)
        return (None, self._continue)

    # -- capture thread -----------------------------------------------------------------------------------------

    def _open_and_pump(self) -> bool:
        """Open PortAudio and the stream, then watch it until stop (returns) or a failure (raises)."""
        pa_mod = self._backend if self._backend is not None else _import_pyaudio()
        self._overflow_flag = int(pa_mod.paInputOverflow)
        self._continue = pa_mod.paContinue
        with native_stderr_to_log(log, "portaudio", _portaudio_noise):
            pa = pa_mod.PyAudio()  # a fresh instance rescans the devices
        try:
            index, name = self._pick_device(pa)
            try:
                with native_stderr_to_log(log, "portaudio", _portaudio_noise):
                    stream = pa.open(
                        format=pa_mod.paInt16,
                        channels=1,
                        rate=SAMPLE_RATE,
                        input=True,
                        input_device_index=index,
                        frames_per_buffer=SAMPLE_RATE * self.cfg.chunk_ms // 1000,
                        stream_callback=self._callback,
                        start=False,
                    )
            except (OSError, ValueError) as err:
                raise SourceFailure(f"audio device {name!r}: cannot open 16 kHz mono input: {err}") from None
            try:
                return self._watch(stream, name)
            finally:
                with self._lock:
                    self._open = False
                try:
                    with native_stderr_to_log(log, "portaudio", _portaudio_noise):
                        stream.close()
                except Exception:  # noqa: BLE001
                    pass
        finally:
            try:
                with native_stderr_to_log(log, "portaudio", _portaudio_noise):
                    pa.terminate()
            except Exception:  # noqa: BLE001
                pass

    def _watch(self, stream: Any, name: str) -> bool:
        with self._lock:
            if self._failing:
                self._reopens += 1
                log.info("audio device %r open again", name)
            self._open = True
            self._failing = False
            self._device = name
            self._opened_t = self._clock()
            self._delivered = 0
        try:
            stream.start_stream()
        except OSError as err:
            raise SourceFailure(f"audio device {name!r}: cannot start the input stream: {err}") from None
        while not self._stop.wait(_POLL_S):
            with self._lock:
                got_audio = self._delivered > 0
                since = self._last_audio_t if got_audio else self._opened_t
                quiet = self._clock() - since if since is not None else 0.0
            if not stream.is_active():
                raise SourceFailure(f"audio device {name!r}: the input stream stopped", got_audio)
            if quiet > self._stall_timeout:
                raise SourceFailure(f"audio device {name!r}: no audio for {quiet:.1f} s", got_audio)
        with self._lock:
            return self._delivered > 0

    def _pick_device(self, pa: Any) -> tuple[int, str]:
        count = pa.get_device_count()
        if count == 0:
            raise SourceFailure("no sound device: PortAudio finds none (no sound card, or no access to /dev/snd)")
        inputs = {}
        for i in range(count):
            info = pa.get_device_info_by_index(i)
            if info.get("maxInputChannels", 0) > 0:
                inputs[i] = str(info.get("name", f"device {i}"))
        listing = ", ".join(f"{i}: {n!r}" for i, n in inputs.items()) or "none"
        wanted = self.cfg.device
        if not inputs:
            raise SourceFailure(f"no sound input device among PortAudio's {count} devices")
        if wanted is None:
            try:
                info = pa.get_default_input_device_info()
            except OSError as err:
                raise SourceFailure(f"no default sound input device ({err}); inputs: {listing}") from None
            return int(info["index"]), str(info.get("name", "default"))
        if isinstance(wanted, int):
            if wanted not in inputs:
                raise SourceFailure(f"audio device {wanted}: no input device with that index; inputs: {listing}")
            return wanted, inputs[wanted]
        for i, name in inputs.items():  # the first match: PortAudio lists hardware devices before ALSA plugins
            if wanted.lower() in name.lower():
                return i, name
        raise SourceFailure(f"audio device {wanted!r}: no input device name contains it; inputs: {listing}")
