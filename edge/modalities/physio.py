"""The physiology modality: ECG and skin-conductance samples → PhysioEstimate (edge/physio/stage.py), every
physio.hop_s: heart rate, HRV, skin conductance and, once the driver's baseline is learned, stress.

Live, the serial sensor (edge/sources/serial.py, [serial] port) is drained into the stage at every step; in replay,
a drive's physio.csv (or --physio CSV) is fed to it in step with the video, every sample up to the frame's time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.config import Config
from edge.modalities.base import HaSensor, InputError, Modality, ModalityKind, ReplayFeed, ha_number
from edge.monitor.fusion import ModalityEstimate
from edge.rounding import rounded, rounded_scores
from edge.stats import StageTimer
from edge.types import PhysioEstimate


def section(physio: PhysioEstimate) -> dict[str, Any]:
    return {
        "t": rounded(physio.t, 3) if physio.reason != "off" else None,
        "hr_bpm": rounded(physio.hr_bpm, 2),
        "rmssd_ms": rounded(physio.rmssd_ms, 2),
        "sdnn_ms": rounded(physio.sdnn_ms, 2),
        "pnn50": rounded(physio.pnn50),
        "ecg_quality": round(physio.ecg_quality, 4),
        "scl": rounded(physio.scl),
        "scr_rate_per_min": rounded(physio.scr_rate_per_min, 2),
        "eda_quality": round(physio.eda_quality, 4),
        "eda_flags": list(physio.eda_flags),
        "quality": round(physio.quality, 4),
        "stress_level": physio.stress_level,
        "stress": rounded_scores(physio.stress),
        "baseline_remaining_s": rounded(physio.baseline_remaining_s, 1),
        "reason": physio.reason,
    }


def fusion_vote(physio: PhysioEstimate) -> ModalityEstimate | None:
    """The "physio" modality from a window the stress model classified (None otherwise: it does not vote).

    Stress is the model's P(high) (drivedb's city driving); quality the better of the ECG and EDA qualities, since
    the model works from either. Physiology gives no arousal estimate of its own.
    """
    if physio.stress is None:
        return None
    return ModalityEstimate("physio", physio.t, None, physio.stress.get("high", 0.0), physio.quality)


def console(physio: dict[str, Any] | None) -> str:
    """"" without a physiology source; else heart rate, skin conductance and stress, or why they are unknown."""
    if physio is None or physio["reason"] == "off":
        return ""
    parts = []
    if physio["hr_bpm"] is not None:
        parts.append(f"HR {physio['hr_bpm']:.0f} bpm")
    if physio["scl"] is not None:
        parts.append(f"SCL {physio['scl']:.2f}")
    if physio["stress"] is not None:
        parts.append(f"stress {physio['stress_level']} {physio['stress']['high']:.2f}")
    elif physio["reason"] == "baseline" and physio["baseline_remaining_s"] is not None:
        parts.append(f"baseline {physio['baseline_remaining_s']:.0f} s to go")
    else:
        parts.append(physio["reason"].replace("_", " "))
    return "  physio: " + ", ".join(parts)


def live(cfg: Config, timer: StageTimer) -> Modality[PhysioEstimate]:
    """The serial sensor and, with a port, the physiology stage (a missing stress model leaves stress unknown:
    "no_model", and health's models component says why)."""
    from edge.physio.stage import PhysioStage
    from edge.sources.serial import SerialSource

    serial = SerialSource(cfg.serial)  # without a port it starts nothing and reports "disabled"
    if cfg.serial.port is None:
        return Modality(PHYSIO, source=serial)
    stage = PhysioStage.from_config(cfg, timer=timer)
    # Drained at every step, so the source's buffer never overflows.
    return Modality(PHYSIO, stage, feed=lambda _t: stage.feed(serial.drain()), source=serial,
                    model_problem=stage.model_problem)


def replay(cfg: Config, path: Path, timer: StageTimer, strict: bool = False) -> Modality[PhysioEstimate]:
    """physio.csv by the serial sensor's line rules, with its [serial] max_line_bytes (malformed lines skipped and
    reported, or refused with `strict`)."""
    from edge.physio.stage import PhysioStage
    from edge.sources.physio_replay import read_physio_csv
    from edge.sources.recording import RecordingError

    try:
        samples, skipped = read_physio_csv(path, cfg.serial.max_line_bytes, strict)
    except RecordingError as err:
        raise InputError(str(err)) from None
    stage = PhysioStage.from_config(cfg, timer=timer)
    return Modality(PHYSIO, stage, feed=ReplayFeed(samples, lambda sample: sample.t, stage.feed),
                    model_problem=stage.model_problem, skipped=[skipped])


PHYSIO: ModalityKind[PhysioEstimate] = ModalityKind(
    name="physio",
    source="serial",
    stream="physio",
    stream_help="ECG/GSR samples for the physiology stage: t_s,ecg,gsr on the video's clock (docs/sensors.md; "
    "default: the drive's physio.csv, if any)",
    sections=("serial", "physio"),
    learned="the driver's physiological baseline",
    unknown=PhysioEstimate.unknown,
    waiting="no_sensor",
    section=section,
    live=live,
    replay=replay,
    fusion=fusion_vote,
    max_age_s=lambda cfg: cfg.fusion.physio_max_age_s,
    console=console,
    homeassistant=(
        HaSensor("heart_rate", "Heart rate",
                 ha_number("value_json.physio.hr_bpm", "value_json.physio.hr_bpm | round(0)"),
                 {"unit_of_measurement": "bpm", "state_class": "measurement", "icon": "mdi:heart-pulse"}),
    ),
)
