"""Cabin audio: the capture settings and the live microphone (PyAudio); the ring and WAV replay are re-exported.

Everything is mono 16 kHz int16 PCM. The microphone's PortAudio callback writes into an AudioRing
(audio_ring.py); the audio worker reads the newest samples from it. Privacy: audio lives only in the ring; it is
never written to disk, logged or published. Device errors never kill the capture thread: it reports
"unavailable" with the reason and reopens with exponential backoff (a fresh PortAudio instance each time, so a
replugged device is found again). Replay reads a drive's audio.wav with WavSource (audio_wav.py).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from edge.native_stderr import native_stderr_to_log
from edge.sources.audio_ring import SAMPLE_RATE, SAMPLE_WIDTH, AudioChunk, AudioRing
from edge.sources.audio_wav import AudioError, WavSource
from edge.sources.timing import safe_seconds

__all__ = [
    "SAMPLE_RATE",
    "SAMPLE_WIDTH",
    "AudioCaptureSettings",
    "AudioChunk",
    "AudioError",
    "AudioRing",
    "AudioState",
    "AudioStatus",
    "MicrophoneSource",
    "WavSource",
]

log = logging.getLogger("edge.audio")

_POLL_S = 0.1  # how often the capture thread checks the stream and the stop flag

AudioState = Literal["starting", "ok", "unavailable", "stopped"]


@dataclass(frozen=True, slots=True)
class AudioCaptureSettings:
    device: str | int | None = None  # None: the default input; str: substring of its name (any case); int: index
    sample_rate: int = SAMPLE_RATE
    ring_seconds: float = 10.0  # a voice segment is 2-3 s; the rest is slack for a slow worker
    chunk_ms: int = 20  # one PortAudio buffer; a multiple of 10 ms lines up with the VAD frames
    reopen_initial_s: float = 0.5
    reopen_max_s: float = 10.0
    stall_timeout_s: float = 2.0  # no callback for this long: the stream is dead (an unplugged USB mic goes quiet)

    def __post_init__(self) -> None:
        if self.sample_rate != SAMPLE_RATE:
            raise ValueError(f"sample_rate: {self.sample_rate} Hz; the audio pipeline is pinned to {SAMPLE_RATE} Hz")
        if not 1 <= self.chunk_ms <= 1000:
            raise ValueError(f"chunk_ms: {self.chunk_ms}; expected 1..1000 ms")
        if not self.ring_seconds * 1000 >= self.chunk_ms:
            raise ValueError(f"ring_seconds: {self.ring_seconds}; must hold at least one chunk ({self.chunk_ms} ms)")

    @property
    def frames_per_buffer(self) -> int:
        return self.sample_rate * self.chunk_ms // 1000

    @property
    def ring_capacity(self) -> int:
        return int(self.ring_seconds * self.sample_rate)


def _portaudio_noise(line: str) -> int:
    # PortAudio's init probes every ALSA PCM and JACK and reports each miss: routine, not worth a warning.
    return logging.DEBUG


def _import_pyaudio() -> Any:
    try:
        import pyaudio  # the optional `audio` extra
    except ImportError as err:
        raise _Failure(
            f"pyaudio is not installed ({err}); install the audio extra: pip install 'edge-dms[audio]'"
        ) from None
    return pyaudio


@dataclass(frozen=True, slots=True)
class AudioStatus:
    state: AudioState
    detail: str | None  # why it is not ok (None when ok)
    device: str | None  # name of the device last opened
    samples: int  # captured since start, across reopens
    overflows: int  # callbacks the device flagged paInputOverflow: audio lost before it reached us
    overrun: int  # samples overwritten in the ring before the worker read them: the worker fell behind
    reopens: int  # times the device was opened again after a failure
    errors: int  # failures of any kind: open, stalled or dead stream, callback exceptions
    last_audio_age_s: float | None  # None before the first callback

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Failure(Exception):
    """A capture failure the thread reports and recovers from by reopening."""

    def __init__(self, message: str, got_audio: bool = False):
        super().__init__(message)
        self.got_audio = got_audio  # whether this opening delivered audio before failing (resets the backoff)


class MicrophoneSource:
    """The live microphone: a named thread ("audio") that keeps a PyAudio input stream open, reopening on failure.

    PortAudio calls `_callback` on its own thread with each buffer; it goes into `ring` stamped with `clock()` at
    the callback (the newest sample's capture time, give or take one buffer of latency). `backend` is the pyaudio
    module, or a stand-in with its interface (tests); by default pyaudio is imported when the thread opens.
    """

    def __init__(
        self,
        settings: AudioCaptureSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        backend: Any = None,
    ):
        self.settings = settings or AudioCaptureSettings()
        self.ring = AudioRing(self.settings.ring_capacity, self.settings.sample_rate)
        self._clock = clock
        self._backend = backend
        self._reopen_initial = safe_seconds(self.settings.reopen_initial_s, 0.5)
        self._reopen_max = max(self._reopen_initial, safe_seconds(self.settings.reopen_max_s, 10.0))
        self._stall_timeout = safe_seconds(self.settings.stall_timeout_s, 2.0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Guarded by self._lock.
        self._open = False
        self._opened_t: float | None = None
        self._failing = False
        self._device: str | None = None
        self._samples = 0
        self._overflows = 0
        self._reopens = 0
        self._errors = 0
        self._delivered = 0  # callbacks since the last open
        self._last_audio_t: float | None = None
        self._last_error: str | None = None
        self._death: str | None = None
        # The backend's paInputOverflow and paContinue, set before each stream opens.
        self._overflow_flag = 0
        self._continue: Any = 0

    def start(self) -> MicrophoneSource:
        if self._thread is not None:
            raise RuntimeError("MicrophoneSource already started")
        thread = threading.Thread(target=self._run, name="audio", daemon=True)
        thread.start()
        self._thread = thread
        return self

    def stop(self) -> None:
        """Stop the thread; it closes the stream and PortAudio within _POLL_S."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            if self._thread.is_alive():
                log.error("audio thread did not stop within 5 s")

    def __enter__(self) -> MicrophoneSource:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def status(self) -> AudioStatus:
        with self._lock:
            now = self._clock()
            age = None if self._last_audio_t is None else max(0.0, now - self._last_audio_t)
            detail = self._last_error
            if self._stop.is_set():
                state: AudioState = "stopped"
                detail = "stopped"
            elif self._thread is not None and not self._thread.is_alive():
                state = "unavailable"
                detail = f"audio capture thread stopped unexpectedly ({self._death or 'no reason recorded'})"
            elif self._failing:
                state = "unavailable"
            elif not self._open or self._opened_t is None:
                state, detail = "starting", "opening the audio device"
            else:
                # Like the thread's own check: quiet since the last callback of this opening, or since it opened.
                since = self._last_audio_t if self._delivered and self._last_audio_t is not None else self._opened_t
                if now - since > self._stall_timeout:  # reported before the thread notices and reopens
                    state, detail = "unavailable", f"audio device {self._device!r}: no audio for {now - since:.1f} s"
                elif not self._delivered:
                    state, detail = "starting", f"audio device {self._device!r} open, waiting for audio"
                else:
                    state, detail = "ok", None
            return AudioStatus(
                state=state,
                detail=detail,
                device=self._device,
                samples=self._samples,
                overflows=self._overflows,
                overrun=self.ring.overrun,
                reopens=self._reopens,
                errors=self._errors,
                last_audio_age_s=age,
            )

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

    def _run(self) -> None:
        backoff = self._reopen_initial
        try:
            while not self._stop.is_set():
                got_audio = False
                try:
                    got_audio = self._capture_once()
                except Exception as err:  # noqa: BLE001 - the thread must survive anything PortAudio throws
                    got_audio = isinstance(err, _Failure) and err.got_audio
                    self._report_failure(err)
                if self._stop.is_set():
                    break
                if got_audio:  # the device worked since the last failure: start the backoff over
                    backoff = self._reopen_initial
                if self._stop.wait(backoff):
                    break
                backoff = min(backoff * 2.0, self._reopen_max)
        except BaseException as err:  # noqa: BLE001 - not an Exception (SystemExit, …): the thread ends here
            with self._lock:
                self._errors += 1
                self._death = f"{type(err).__name__}: {err}"
            log.critical("audio capture thread stopped unexpectedly", exc_info=True)
        finally:
            with self._lock:
                self._open = False

    def _capture_once(self) -> bool:
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
                        rate=self.settings.sample_rate,
                        input=True,
                        input_device_index=index,
                        frames_per_buffer=self.settings.frames_per_buffer,
                        stream_callback=self._callback,
                        start=False,
                    )
            except (OSError, ValueError) as err:
                raise _Failure(f"audio device {name!r}: cannot open 16 kHz mono input: {err}") from None
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
            raise _Failure(f"audio device {name!r}: cannot start the input stream: {err}") from None
        while not self._stop.wait(_POLL_S):
            with self._lock:
                got_audio = self._delivered > 0
                since = self._last_audio_t if got_audio else self._opened_t
                quiet = self._clock() - since if since is not None else 0.0
            if not stream.is_active():
                raise _Failure(f"audio device {name!r}: the input stream stopped", got_audio)
            if quiet > self._stall_timeout:
                raise _Failure(f"audio device {name!r}: no audio for {quiet:.1f} s", got_audio)
        with self._lock:
            return self._delivered > 0

    def _pick_device(self, pa: Any) -> tuple[int, str]:
        count = pa.get_device_count()
        if count == 0:
            raise _Failure("no sound device: PortAudio finds none (no sound card, or no access to /dev/snd)")
        inputs = {}
        for i in range(count):
            info = pa.get_device_info_by_index(i)
            if info.get("maxInputChannels", 0) > 0:
                inputs[i] = str(info.get("name", f"device {i}"))
        listing = ", ".join(f"{i}: {n!r}" for i, n in inputs.items()) or "none"
        wanted = self.settings.device
        if not inputs:
            raise _Failure(f"no sound input device among PortAudio's {count} devices")
        if wanted is None:
            try:
                info = pa.get_default_input_device_info()
            except OSError as err:
                raise _Failure(f"no default sound input device ({err}); inputs: {listing}") from None
            return int(info["index"]), str(info.get("name", "default"))
        if isinstance(wanted, int):
            if wanted not in inputs:
                raise _Failure(f"audio device {wanted}: no input device with that index; inputs: {listing}")
            return wanted, inputs[wanted]
        for i, name in inputs.items():  # the first match: PortAudio lists hardware devices before ALSA plugins
            if wanted.lower() in name.lower():
                return i, name
        raise _Failure(f"audio device {wanted!r}: no input device name contains it; inputs: {listing}")

    def _report_failure(self, err: Exception) -> None:
        if isinstance(err, _Failure):
            message = str(err)
        else:
            log.debug("unexpected audio error", exc_info=True)
            message = f"audio capture: {type(err).__name__}: {err}"
        with self._lock:
            repeated = self._failing and message == self._last_error
            self._errors += 1
            self._failing = True
            self._last_error = message
        # The same reason every backoff (no device in this vehicle) is logged once, then at debug level.
        log.log(logging.DEBUG if repeated else logging.WARNING, "%s; cabin audio unavailable", message)
