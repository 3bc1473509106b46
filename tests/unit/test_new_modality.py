"""Adding a modality is one file, its config section and one line in the registry (docs/architecture.md).

The toy below is written as a new modality would be: a stage that publishes one number once per hop, its config
section (`ToyConfig`, one line in Config: here the `create_model` call) and its registry line (`KINDS`). Nothing
else is touched, yet it reaches the published state, the console, Home Assistant, health and the monitoring-
degraded check, through the same session as voice and physiology.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import create_model

from edge.config import Config, Seconds, _Section, bounded
from edge.modalities import REGISTERED
from edge.modalities.base import HaSensor, Modality, ModalityKind
from edge.replay import replay
from edge.session import live_modalities
from edge.sinks.console import format_state
from edge.sinks.homeassistant import discovery_payload
from edge.stats import StageTimer
from tests.scripted import Recorder, frames, session, timeline

# --- edge/modalities/toy.py ---------------------------------------------------------------------------------------


class ToyConfig(_Section):
    value: float = bounded(42.0, ge=0.0, le=1000.0, why="the toy sensor's full scale")  # every number has limits
    hop_s: Seconds = 1.0


@dataclass(frozen=True)
class ToyEstimate:
    t: float
    value: float | None
    reason: str | None = None

    @staticmethod
    def unknown(t: float, reason: str) -> ToyEstimate:
        return ToyEstimate(t, None, reason)


class ToyStage:
    def __init__(self, cfg: ToyConfig):
        self.cfg, self.next_t = cfg, cfg.hop_s

    def poll(self, t: float) -> ToyEstimate | None:
        if t < self.next_t:
            return None
        self.next_t += self.cfg.hop_s
        return ToyEstimate(t, self.cfg.value)


def _live(cfg: Any, timer: StageTimer) -> Modality[ToyEstimate]:
    return Modality(TOY, ToyStage(cfg.toy))


def _replay(cfg: Any, path: Path, timer: StageTimer, strict: bool) -> Modality[ToyEstimate]:
    raise NotImplementedError("the toy has no recorded stream")


TOY: ModalityKind[ToyEstimate] = ModalityKind(
    name="toy",
    source="toy_sensor",
    stream="toy",
    stream_help="toy samples",
    sections=("toy",),
    learned="nothing",
    unknown=ToyEstimate.unknown,
    waiting="no_toy",
    section=lambda e: {"value": e.value, "reason": e.reason},
    live=_live,
    replay=_replay,
    console=lambda section: f"  toy: {section['value']}" if section and section["value"] is not None else "",
    homeassistant=(HaSensor("toy", "Toy", "{{ value_json.toy.value }}"),),
)

# --- the config line (edge/config: `toy: ToyConfig = ToyConfig()` in Config)
ToyAppConfig = create_model("ToyAppConfig", __base__=Config, toy=(ToyConfig, ToyConfig()))

# --- the registry line (edge/modalities/__init__.py) -----------------------------------------------------------------
KINDS = (*REGISTERED, TOY)

# ----------------------------------------------------------------------------------------------------------------------


def test_a_new_modality_reaches_the_state_the_console_home_assistant_and_health():
    sink = Recorder()
    seen = timeline(3.0)
    drive = session(seen, ToyAppConfig(), sink, live_modalities(StageTimer()), kinds=KINDS)
    replay(frames(len(seen)), drive)
    states = sink.on("state")
    assert [s["toy"] for s in states[:2]] == [{"value": None, "reason": "no_toy"}] * 2  # before the first hop
    assert states[-1]["toy"] == {"value": 42.0, "reason": None}
    assert list(states[-1])[-5:] == ["voice", "physio", "speed", "toy", "stress"]  # after the registered ones
    assert format_state(states[-1], KINDS).endswith("  toy: 42.0")
    assert discovery_payload("car", "dms/car", "1.2.3", kinds=KINDS)["cmps"]["toy"]["value_template"] == (
        "{{ value_json.toy.value }}")
    assert drive.source_health()["toy_sensor"] == {"state": "ok", "detail": None}
    assert drive.source_health()["serial"]["state"] == "disabled"  # the others as they are without a device


def test_a_new_modality_is_off_without_a_source_and_its_fault_degrades_monitoring():
    class Broken:
        def poll(self, t: float) -> None:
            return None

    off = session(timeline(1.0), ToyAppConfig(), None, lambda kind, cfg: Modality(kind), kinds=KINDS)
    assert off.frame(frames(1)[0]).estimate("toy").reason == "off"
    sink = Recorder()
    faulty = session(timeline(1.0), ToyAppConfig(), sink,
                     lambda kind, cfg: Modality(kind, Broken(), problem="toy sensor unplugged") if kind is TOY
                     else Modality(kind), kinds=KINDS)
    for frame in frames(30):
        faulty.frame(frame)
    (event,) = sink.on("events")
    assert (event["kind"], event["evidence"]["reason"]) == ("monitoring_degraded", "toy_sensor")
    assert faulty.source_health()["toy_sensor"] == {"state": "unavailable", "detail": "toy sensor unplugged"}
