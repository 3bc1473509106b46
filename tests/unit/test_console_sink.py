"""The console's state line: what it shows of the voice and physiology stages."""

from edge.config import Config
from edge.modalities.physio import console as format_physio
from edge.monitor.driver import DriverMonitor
from edge.sinks.console import format_state
from edge.state import state_payload
from edge.types import FaceObservation, PhysioEstimate


def _line(physio: PhysioEstimate | None, source: bool = True) -> str:
    monitor = DriverMonitor(Config(), "test", present={"physio"} if source else ())
    return format_state(state_payload(monitor.step(FaceObservation.absent(10.0, 300), estimates={"physio": physio})))


def test_physiology_on_the_state_line():
    assert "physio" not in _line(None, source=False)
    assert _line(None).endswith("face: none  physio: no sensor")
    learning = PhysioEstimate(10.0, 72.4, 40.0, 50.0, 0.2, 0.9, 5.123, 3.0, 1.0, baseline_remaining_s=118.6,
                              reason="baseline")
    assert _line(learning).endswith("physio: HR 72 bpm, SCL 5.12, baseline 119 s to go")
    stressed = PhysioEstimate(10.0, 95.0, 20.0, 30.0, 0.05, 0.9, None, None, 0.0, eda_flags=("flat",),
                              stress={"low": 0.1, "medium": 0.2, "high": 0.7}, baseline_remaining_s=0.0)
    assert _line(stressed).endswith("physio: HR 95 bpm, stress high 0.70")
    assert format_physio(None) == ""
