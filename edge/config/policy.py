"""Config sections of the driver-state policy: drowsiness, distraction, fusion and alerts."""

from __future__ import annotations

from typing import Annotated

from pydantic import model_validator

from edge.config._base import Degrees, Fraction, Kmh, Seconds, _Section, bounded, refuse_moved_keys
from edge.names import AlertLevel

Kss = Annotated[float, bounded(ge=1.0, le=9.0, why="the Karolinska Sleepiness Scale runs from 1 to 9")]


class DrowsinessConfig(_Section):
    # Episode thresholds on continuous closure of both (visible) eyes. Blink durations: 100-400 ms alert
    # (Stern et al. 1994; Schleicher et al. 2008); >= 500 ms is a long blink, a drowsiness sign (Ingre et al. 2006).
    min_blink_s: float = bounded(  # shorter closures are landmark flicker
        0.03, ge=0.0, le=1.0, why="a closure of a second is a microsleep (Euro NCAP), not flicker")
    long_blink_s: Seconds = 0.5
    microsleep_s: Seconds = 1.0  # Euro NCAP 2023 DSM: eyes closed >= 1 s
    sleep_s: Seconds = 3.0  # Euro NCAP 2023 DSM: >= 3 s
    window_s: Seconds = 60.0  # PERCLOS (P80) and blink-rate window (Wierwille et al. 1994; Dinges & Grace 1998)
    min_visible_s: Seconds = 30.0  # visible time in the window before PERCLOS and KSS are reported
    # Yawn: the mouth open (MAR >= yawn_end_mar) for yawn_min_s, timed from when it opened, and wide (>= yawn_mar)
    # at some point; it ends when MAR falls below yawn_end_mar.
    # On real drivers (docs/drowsiness.md) speech kept MAR >= 0.3 for 0.43 s at most, yawns for 1.5-4.3 s.
    yawn_mar: float = bounded(0.5, gt=0.0, le=5.0, why="a mouth 5 times as tall as wide; the widest yawns reach ~1")
    yawn_end_mar: float = bounded(0.35, gt=0.0, le=5.0, why="a mouth 5 times as tall as wide; yawns reach ~1")
    yawn_min_s: Seconds = 1.0
    # Nod: pitch falls nod_drop_deg below the driver's recent median pitch and returns within nod_max_s.
    nod_drop_deg: Degrees = 12.0
    nod_max_s: Seconds = 2.0
    history_s: Seconds = 300.0  # window for long blinks, yawns, nods and microsleeps in the KSS rule
    # KSS rule (docs/drowsiness.md): KSS = 3 + perclos / perclos_kss7 * 4, plus one step each for a long-blink
    # rate >= long_blinks_per_min, >= yawns_for_step yawns and >= 1 nod in history_s; at least 8 after a
    # microsleep. PERCLOS 0.15 over a minute marks drowsiness in Dinges & Grace (1998) and Wierwille (1994).
    perclos_kss7: Fraction = 0.15
    long_blinks_per_min: float = bounded(3.0, gt=0.0, le=120.0, why="a long blink lasts >= 0.5 s: 120 fill a minute")
    yawns_for_step: int = bounded(2, ge=1, le=1000, why="no one yawns a thousand times in history_s (an hour at most)")
    kss_drowsy: Kss = 7.0  # KSS >= 7: drowsy (DDAW, EU 2021/1341, warns at KSS >= 8)
    kss_very_drowsy: Kss = 8.0

    @model_validator(mode="after")
    def _ordered(self) -> DrowsinessConfig:
        if not self.long_blink_s < self.microsleep_s < self.sleep_s:
            raise ValueError("need long_blink_s < microsleep_s < sleep_s")
        if self.yawn_end_mar > self.yawn_mar:
            raise ValueError("yawn_end_mar must be <= yawn_mar")
        if self.kss_very_drowsy < self.kss_drowsy:
            raise ValueError("kss_very_drowsy must be >= kss_drowsy")
        return self


class DistractionConfig(_Section):
    # Off road: the head turned from the driver's road-ahead pose (the camera mount's, refined online from
    # confident frames while the vehicle moves: docs/calibration.md) by more than these angles.
    yaw_off_road_deg: Degrees = 25.0
    pitch_down_off_road_deg: Degrees = 20.0  # looking down at a phone or the console
    pitch_up_off_road_deg: Degrees = 20.0
    min_face_quality: Fraction = 0.3  # below: pose not judged (neither on nor off road)
    # Online calibration of the road-ahead pose: confident frames while moving before it is used...
    calibration_samples: int = bounded(
        300, ge=10, le=108_000, why="an hour of driving at 30 fps: the road-ahead pose is needed long before")
    calibration_min_share: float = bounded(  # ...and the share of them the densest pose must hold
        0.45, gt=0.0, le=1.0, why="a share of the recent poses")
    # With a mount, poses further than these from its road-ahead line are not learned as road ahead (wider than the
    # off-road angles, so a mount that is off by them can still be corrected); if most poses are, the mount is wrong.
    calibration_max_offset_yaw_deg: Degrees = 30.0
    calibration_max_offset_pitch_deg: Degrees = 25.0
    calibration_min_speed_kmh: Kmh = 20.0  # with a speed source, learned only above this
    long_distraction_s: Seconds = 3.0  # Euro NCAP 2023 DSM: long distraction, off road >= 3 s
    vats_window_s: Seconds = 30.0  # Euro NCAP visual attention time sharing: >= 10 s off road within 30 s...
    vats_total_s: Seconds = 10.0
    vats_reset_on_road_s: Seconds = 2.0  # ...reset by >= 2 s continuously on road

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        return refuse_moved_keys(data, {"neutral_samples": "is now calibration_samples"})

    @model_validator(mode="after")
    def _vats(self) -> DistractionConfig:
        if self.vats_total_s > self.vats_window_s:
            raise ValueError("vats_total_s must be <= vats_window_s")
        return self


class AlertLevels(_Section):
    """The first level of each alert kind (docs/alerts.md, from Euro NCAP 2023/2026 DSM, DDAW and ADDW); one field
    per kind of edge.names.ALERT_KINDS, in that order."""

    microsleep: AlertLevel = "warning"
    sleep: AlertLevel = "critical"
    unresponsive: AlertLevel = "critical"
    drowsiness: AlertLevel = "advisory"  # escalates to warning at drowsiness.kss_very_drowsy
    long_distraction: AlertLevel = "warning"
    visual_time_sharing: AlertLevel = "warning"
    stress: AlertLevel = "advisory"
    driver_not_visible: AlertLevel = "warning"
    monitoring_degraded: AlertLevel = "advisory"


class AlertsConfig(_Section):
    levels: AlertLevels = AlertLevels()
    hold_s: Seconds = 1.0  # a condition must stay clear this long before its alert ends (no flapping)
    # After an end, the same kind does not start again for this long.
    cooldown_s: float = bounded(5.0, ge=0.0, le=3600.0, why="an hour: a longer one would hide a driver falling asleep")
    update_interval_s: Seconds = 1.0  # `update` messages while an alert lasts
    escalate_after_s: Seconds = 5.0  # an unacknowledged alert goes up one level after this long (up to critical)
    unresponsive_s: Seconds = 6.0  # eyes closed this long: unresponsive (Euro NCAP 2023); a head angle alone never is
    unresponsive_after_warning_s: Seconds = 3.0  # ...or no return to the road within this after a warning
    driver_not_visible_s: Seconds = 5.0  # no usable face this long
    monitoring_degraded_s: Seconds = 10.0  # eyes not visible (sunglasses, occlusion) this long
    stress_s: Seconds = 60.0  # fused stress high this long
    stress_threshold: Fraction = 0.7  # fused stress probability that counts as high
    # Speed gating, applied only with a fresh speed ([speed]; without one the vehicle counts as moving):
    ddaw_min_speed_kmh: Kmh = 70.0  # drowsiness warning (EU 2021/1341 DDAW) above this
    addw_min_speed_kmh: Kmh = 20.0  # distraction warning (EU 2023/2590 ADDW) above this

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: object) -> object:
        return refuse_moved_keys(data, {"speed_max_age_s": "has moved to [speed] max_age_s"})


class FusionConfig(_Section):
    # Each modality's estimate is dropped when older than its max age (never imputed).
    face_max_age_s: Seconds = 1.0
    voice_max_age_s: Seconds = 10.0
    physio_max_age_s: Seconds = 10.0
    arousal_tau_s: Seconds = 3.0  # smoothing time constants: arousal changes in seconds...
    stress_tau_s: Seconds = 30.0  # ...stress over tens of seconds
