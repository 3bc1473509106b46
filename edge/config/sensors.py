"""Config sections of the optional sensors: the serial physiology sensor, its analysis, and cabin audio."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from edge.config._base import Baud, Fraction, Seconds, _Section, bounded

_ADC_WHY = "a 24-bit ADC, the finest sold"  # the limit of the Grove GSR numbers


class SerialConfig(_Section):
    # Physiology sensors (ECG, GSR) on a serial port; docs/sensors.md documents the line protocols.
    port: str | None = None  # e.g. "/dev/ttyUSB0" or "/dev/serial/by-id/..."; None: no sensor (health: disabled)
    baudrate: Baud = 115200
    # "csv": `seq,t_ms,ecg,gsr` with an optional `*XX` checksum; "ecg": one ECG value per line at ecg_rate_hz,
    # `!` when the leads are off.
    protocol: Literal["csv", "ecg"] = "csv"
    ecg_rate_hz: float = bounded(  # the "ecg" protocol's lines carry no time
        250.0, gt=0.0, le=5000.0, why="clinical ECG samples at 500-1000 Hz; research devices at up to 5 kHz")
    read_timeout_s: Seconds = 1.0  # no byte for this long: the sensor is reported silent
    max_line_bytes: int = bounded(  # longer lines are garbage: counted and skipped
        256, ge=16, le=65536, why="64 KiB; a sensor's line is tens of bytes")
    reopen_initial_s: Seconds = 0.2  # the port vanished (cable, USB reset): reopen after this, doubling...
    reopen_max_s: Seconds = 1.0  # ...up to this, so a re-created port is back within ~1-2 s

    @model_validator(mode="after")
    def _backoff(self) -> SerialConfig:
        if self.reopen_max_s < self.reopen_initial_s:
            raise ValueError("reopen_max_s must be >= reopen_initial_s")
        return self


class PhysioConfig(_Section):
    # The physiology stage (edge/physio/stage.py): heart rate, HRV and skin conductance over the last window_s of
    # the serial sensor (or a drive's physio.csv), and the stress model on them relative to the driver's baseline.
    window_s: float = bounded(  # HRV/EDA window; the stress model was trained on 60 s
        60.0, ge=20.0, le=300.0, why="5 minutes, the standard short-term HRV recording (Task Force 1996)")
    hop_s: float = bounded(  # an estimate every hop_s (keep it under fusion.physio_max_age_s)
        5.0, gt=0.0, le=60.0, why="a minute: stress is judged over minutes, slower estimates miss its changes")
    baseline_s: Seconds = 300.0  # the driver's resting values: windows within this of the first usable one
    # What the sensor's GSR numbers are: "grove" (Seeed Grove GSR ADC readings, converted to µS), "microsiemens",
    # or "raw" (any unit, used as it is: the model only sees ratios to the driver's own baseline).
    gsr_unit: Literal["grove", "microsiemens", "raw"] = "grove"
    grove_full_scale: int = bounded(1024, ge=2, le=1 << 24, why=_ADC_WHY)  # the ADC's range: 1024 for a 10-bit ADC
    # The reading with no skin on the electrodes (Grove trimmer).
    grove_open_reading: float = bounded(512.0, gt=0.0, le=float(1 << 24), why=_ADC_WHY)
    min_ecg_quality: Fraction = 0.3  # ECG signal quality below this: heart rate and HRV are not reported or used
    stress_model: bool = True  # run models/stress.tflite when the manifest has it; without it stress is unknown

    @model_validator(mode="after")
    def _consistent(self) -> PhysioConfig:
        if self.hop_s > self.window_s:
            raise ValueError("hop_s must be <= window_s (no signal may go unanalysed)")
        if self.grove_open_reading >= self.grove_full_scale:
            raise ValueError("grove_open_reading must be < grove_full_scale")
        return self


class AudioConfig(_Section):
    # Cabin audio for the voice model (off by default). Audio lives only in an in-memory ring of ring_s seconds:
    # it is never written to disk, logged or published; only the derived estimate leaves the process.
    enabled: bool = False
    device: str | int | None = None  # input device: None the system default, a name substring, or an index
    ring_s: Seconds = 10.0  # the ring; must hold a segment and the slack of a slow worker
    chunk_ms: int = bounded(  # one capture buffer; a multiple of 10 ms lines up with VAD frames
        20, ge=10, le=200, why="longer buffers delay every estimate; PortAudio's usual are 10-100 ms")
    segment_s: float = bounded(  # the newest audio each voice estimate is made from
        3.0, ge=1.0, le=10.0, why="the voice model was trained on utterances of a few seconds (RAVDESS: ~4 s)")
    hop_s: float = bounded(  # a voice estimate every hop_s (segments overlap when < segment_s)
        1.0, gt=0.0, le=10.0, why="at most segment_s, itself at most 10 s")
    vad_aggressiveness: int = bounded(  # WebRTC VAD: 0 keeps the most audio as speech, 3 the least
        2, ge=0, le=3, why="WebRTC VAD has modes 0-3")
    energy_gate_db: float = bounded(  # a speech frame is also this far above the noise floor
        6.0, ge=0.0, le=40.0, why="speech in a car is rarely 40 dB above the cabin noise: no frame would pass")
    min_speech_fraction: Fraction = 0.4  # a segment with less speech gives no estimate ("no_speech")
    min_snr_db: float = bounded(  # a noisier segment gives no estimate ("noisy")
        10.0, ge=-30.0, le=60.0, why="no cabin recording has 60 dB SNR: no segment would pass")
    speaker_min_s: Seconds = 3.0  # voiced audio before the driver's own statistics replace the population's
    reopen_initial_s: Seconds = 0.5  # the device failed: reopen after this, doubling up to reopen_max_s
    reopen_max_s: Seconds = 10.0
    stall_timeout_s: Seconds = 2.0  # no audio for this long: the device is reported unavailable and reopened

    @field_validator("device", mode="before")
    @classmethod
    def _no_bool(cls, v: object) -> object:
        if isinstance(v, bool):
            raise ValueError("expected a device name or index")
        return v

    @model_validator(mode="after")
    def _timing(self) -> AudioConfig:
        if self.hop_s > self.segment_s:
            raise ValueError("hop_s must be <= segment_s (no audio may go unanalysed)")
        if self.ring_s < self.segment_s + self.hop_s:
            raise ValueError("ring_s must be >= segment_s + hop_s")
        if self.reopen_max_s < self.reopen_initial_s:
            raise ValueError("reopen_max_s must be >= reopen_initial_s")
        return self
