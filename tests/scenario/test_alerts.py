"""The alert state machine driven by time vectors at 30 fps (defaults: hold 1 s, cooldown 5 s, updates every 1 s,
escalation every 5 s, DDAW 70 km/h, ADDW 20 km/h, speed stale after 2 s)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from edge.config import AlertsConfig
from edge.monitor.alerts import AlertEvent, AlertManager, Condition
from edge.names import ALERT_KINDS as KINDS

FPS = 30.0
ON = Condition(True, {"off_road_s": 3.2})


def manager(**overrides) -> AlertManager:
    return AlertManager(AlertsConfig(**overrides), "dms")


def run(
    m: AlertManager,
    conditions: Callable[[float], dict[str, Condition]],
    seconds: float,
    t0: float = 0.0,
    speed: Callable[[float], tuple[float | None, float | None]] = lambda t: (None, None),
) -> list[AlertEvent]:
    events = []
    for i in range(int(round(seconds * FPS))):
        t = t0 + i / FPS
        events += m.step(conditions(t), t, *speed(t))
    return events


def while_(kind: str, *spans: tuple[float, float], cond: Condition = ON):
    """The condition of `kind` is active during each [start, end)."""
    return lambda t: {kind: cond} if any(a <= t + 1e-9 < b for a, b in spans) else {}


def test_start_update_end_share_one_id_and_updates_come_every_interval():
    m = manager()
    events = run(m, while_("long_distraction", (1.0, 4.0)), 7.0)
    assert [e.type for e in events] == ["start", "update", "update", "update", "end"]
    assert {e.id for e in events} == {"dms-long_distraction-1"}
    start, *updates, end = events
    assert start.t == pytest.approx(1.0) and start.level == "warning" and start.evidence == {"off_road_s": 3.2}
    assert [u.t for u in updates] == pytest.approx([2.0, 3.0, 4.0])  # the last one in the hold time
    assert end.t == pytest.approx(5.0) and end.ended_at == pytest.approx(4.0)  # cleared at 4 s, held 1 s
    assert all(e.started_at == pytest.approx(1.0) for e in events)
    assert m.active() == []


# clear samples from 2.0 s: 1.0 s of gap has its last clear sample at 2.967 s; one frame more reaches 3.0 s = hold
@pytest.mark.parametrize("gap_s, ends", [(0.5, False), (1.0, False), (1.0 + 1 / FPS, True)])
def test_hysteresis_a_short_clear_gap_does_not_end_an_alert(gap_s, ends):
    m = manager(cooldown_s=0.0)
    events = run(m, while_("microsleep", (0.0, 2.0), (2.0 + gap_s, 4.0)), 6.0)
    types = [e.type for e in events if e.type != "update"]
    assert types == (["start", "end", "start", "end"] if ends else ["start", "end"])
    assert events[-1].ended_at == pytest.approx(4.0)


def test_cooldown_no_restart_within_it_and_a_restart_after_it():
    m = manager()
    # ends at 2 s (clear from 1 s, held 1 s); active again from 3 s: cooldown until 2 + 5 = 7 s
    events = run(m, while_("long_distraction", (0.0, 1.0), (3.0, 20.0)), 9.0)
    starts = [e for e in events if e.type == "start"]
    end = next(e for e in events if e.type == "end")
    assert end.t == pytest.approx(2.0)
    assert [s.t for s in starts] == pytest.approx([0.0, 7.0])
    assert [s.id for s in starts] == ["dms-long_distraction-1", "dms-long_distraction-2"]


def test_a_condition_within_the_cooldown_only_never_starts():
    m = manager()
    events = run(m, while_("driver_not_visible", (0.0, 1.0), (3.0, 6.9)), 12.0)
    assert [e.type for e in events if e.type != "update"] == ["start", "end"]


@pytest.mark.parametrize("kind", ["microsleep", "sleep", "unresponsive"])
def test_eye_closures_and_unresponsiveness_have_no_cooldown(kind):
    m = manager()
    events = run(m, while_(kind, (0.0, 1.0), (3.0, 6.0)), 8.0)
    assert [e.t for e in events if e.type == "start"] == pytest.approx([0.0, 3.0])


def test_escalation_advisory_warning_critical():
    m = manager()
    events = run(m, while_("drowsiness", (0.0, 100.0)), 12.0)
    changes = [(e.t, e.level) for e in events if e.type == "start" or e.level != events[events.index(e) - 1].level]
    assert changes == [(0.0, "advisory"), (pytest.approx(5.0), "warning"), (pytest.approx(10.0), "critical")]
    assert m.warning_since(["drowsiness"]) == pytest.approx(5.0)
    assert m.active()[0].level == "critical"


def test_acknowledgement_stops_escalation_and_is_reported_in_the_next_update():
    m = manager()
    cond = while_("drowsiness", (0.0, 100.0))
    run(m, cond, 2.0)
    result = m.acknowledge("drowsiness", 2.0)
    assert result.acknowledged and result.id == "dms-drowsiness-1" and result.kind == "drowsiness"
    events = run(m, cond, 13.0, t0=2.0)
    assert events[0].type == "update" and events[0].t == pytest.approx(2.0) and events[0].acknowledged
    assert {e.level for e in events} == {"advisory"}  # would be critical by 10 s unacknowledged
    assert not m.acknowledge("dms-drowsiness-1", 15.0).acknowledged
    assert m.acknowledge("dms-drowsiness-1", 15.0).reason == "already acknowledged"


def test_acknowledge_by_id_and_the_reasons_it_fails():
    m = manager()
    assert m.acknowledge("sleep", 0.0).reason == "no active sleep alert"
    assert m.acknowledge("dms-nonsense-9", 0.0).reason == "no active alert with this id or kind"
    run(m, while_("sleep", (0.0, 1.0)), 3.0)
    assert m.acknowledge("dms-sleep-1", 3.0).reason == "alert has already ended"
    run(m, while_("sleep", (0.0, 100.0)), 1.0, t0=10.0)
    assert m.acknowledge("dms-sleep-2", 11.0).acknowledged


def test_a_condition_level_raises_the_alert_at_once_and_never_lowers_it():
    m = manager(escalate_after_s=100.0)
    warn = Condition(True, {"kss": 8.2}, "warning")
    drowsy = Condition(True, {"kss": 7.1})
    events = run(m, lambda t: {"drowsiness": warn if 2.5 <= t < 3.0 else drowsy}, 5.0)
    (raised,) = [e for e in events if e.level == "warning" and e.t < 2.6]
    assert raised.type == "update" and raised.t == pytest.approx(2.5) and raised.evidence == {"kss": 8.2}
    assert events[-1].level == "warning" and events[-1].evidence == {"kss": 7.1}




@pytest.mark.parametrize(
    "kind, speed_kmh, age_s, starts",
    [
        ("drowsiness", 69.9, 0.0, False),
        ("drowsiness", 70.0, 0.0, True),
        ("drowsiness", 50.0, 2.0, False),
        ("drowsiness", 50.0, 2.1, True),  # stale speed: the vehicle counts as moving
        ("microsleep", 10.0, 0.0, True),  # eyes shut are dangerous at any speed: not gated
        ("sleep", 10.0, 0.0, True),
        ("drowsiness", None, 0.0, True),  # no speed source: moving
        ("long_distraction", 19.0, 0.0, False),
        ("visual_time_sharing", 21.0, 0.0, True),
        ("unresponsive", 0.0, 0.0, True),  # not gated
        ("driver_not_visible", 0.0, 0.0, True),
    ],
)
def test_speed_gating(kind, speed_kmh, age_s, starts):
    m = manager()
    events = run(m, while_(kind, (0.0, 100.0)), 1.0, speed=lambda t: (speed_kmh, t - age_s))
    assert any(e.type == "start" for e in events) is starts


def test_slowing_down_does_not_cut_an_alert_short():
    m = manager()
    events = run(m, while_("drowsiness", (0.0, 5.0)), 8.0, speed=lambda t: (90.0 if t < 1.0 else 30.0, t))
    ends = [e for e in events if e.type == "end"]
    assert len(ends) == 1 and ends[0].ended_at == pytest.approx(5.0)


def test_ids_count_per_manager_and_replays_are_identical():
    def replay() -> list[dict]:
        m = manager()
        conds = lambda t: {  # noqa: E731
            **while_("long_distraction", (1.0, 2.0))(t),
            **while_("stress", (1.5, 3.0), cond=Condition(True, {"stress": 0.8, "sources": "physio"}))(t),
        }
        return [e.payload() for e in run(m, conds, 10.0)]

    first = replay()
    assert first == replay()
    assert [p["id"] for p in first if p["type"] == "start"] == ["dms-long_distraction-1", "dms-stress-2"]


def test_payload_is_json_ready():
    m = manager()
    cond = Condition(True, {"closure_s": 1.23456789, "perclos": float("nan"), "n": 3, "ok": True, "reason": None})
    (start,) = m.step({"microsleep": cond}, 10.0000004)
    payload = start.payload()
    assert payload == {
        "v": 1,
        "type": "start",
        "id": "dms-microsleep-1",
        "kind": "microsleep",
        "level": "warning",
        "started_at": 10.0,
        "ended_at": None,
        "t": 10.0,
        "acknowledged": False,
        "evidence": {"closure_s": 1.2346, "perclos": None, "n": 3, "ok": True, "reason": None},
    }
    json.dumps(payload, allow_nan=False)


def test_every_kind_starts_at_its_configured_level_and_unknown_kinds_are_refused():
    m = manager()
    events = m.step({k: ON for k in KINDS}, 0.0)
    assert [(e.kind, e.level) for e in events] == [(k, getattr(m.cfg.levels, k)) for k in KINDS]
    with pytest.raises(ValueError, match="unknown"):
        m.step({"yawning": ON}, 0.1)


def test_end_all_ends_every_active_alert_with_its_reason():
    from edge.config import AlertsConfig
    from edge.monitor.alerts import AlertManager, Condition

    manager = AlertManager(AlertsConfig(), "stop")
    started = manager.step({"microsleep": Condition(True, {"closure_s": 1.0}), "stress": Condition(True, {})}, 10.0)
    assert {e.kind for e in started} == {"microsleep", "stress"}
    ended = manager.end_all(10.5, "stopped")
    assert {(e.type, e.kind) for e in ended} == {("end", "microsleep"), ("end", "stress")}
    assert all(e.ended_at == 10.5 and e.evidence["end_reason"] == "stopped" for e in ended)
    assert [e.id for e in ended] == [e.id for e in started] and manager.active() == []
    assert manager.end_all(11.0, "stopped") == []
