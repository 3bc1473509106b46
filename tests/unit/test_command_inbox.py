"""The command inbox holds a flood to the per-device rate, answers every refused command, and logs a flood once."""

from __future__ import annotations

import json
import logging
import queue
from typing import Any

from edge.rate import TokenBucket
from edge.sinks.command_inbox import CommandInbox
from edge.sinks.commands import Command, queue_or_refuse


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def inbox(rate: float = 10.0, burst: int = 5) -> tuple[CommandInbox, list[Command], list[tuple[dict, int]], Clock]:
    handled: list[Command] = []
    sent: list[tuple[dict[str, Any], int]] = []
    clock = Clock()
    box = CommandInbox(handled.append, lambda result, qos: sent.append((result, qos)), rate, burst, clock)
    return box, handled, sent, clock


def ack(n: int) -> bytes:
    return json.dumps({"kind": "sleep", "request_id": f"r{n}"}).encode()


def test_token_bucket_allows_a_burst_then_the_rate():
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.4)  # 0.8 of a token
    assert bucket.take(0.5)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]  # a long pause refills to the burst


def test_a_flood_is_held_to_the_rate_and_every_refusal_is_answered_at_qos_0():
    box, handled, sent, clock = inbox(rate=10.0, burst=5)
    for n in range(50):  # 50 at once
        box.receive("ack", ack(n), retained=False)
    assert [c.request_id for c in handled] == [f"r{n}" for n in range(5)]
    assert len(sent) == 45 and box.refused == 45
    for n, (result, qos) in enumerate(sent, start=5):
        assert qos == 0 and result["ok"] is False and result["request_id"] == f"r{n}"
        assert result["reason"] == "rate limited: at most 10 commands per second"
    box.receive("ack", b"{not json", retained=False)  # over the rate and malformed: still answered
    assert sent[-1][0]["reason"].startswith("rate limited") and "request_id" not in sent[-1][0]
    clock.t += 0.15  # one token back (and a half)
    box.receive("ack", ack(99), retained=False)
    assert handled[-1].request_id == "r99"
    handled[-1].reply({})  # an admitted command's result goes at QoS 1
    assert sent[-1] == ({"v": 1, "ok": True, "command": "ack", "request_id": "r99"}, 1)


def test_a_flood_logs_when_it_starts_once_a_minute_and_when_it_is_over(caplog):
    box, _, _, clock = inbox(rate=10.0, burst=1)
    with caplog.at_level(logging.INFO, logger="edge.mqtt"):
        for _ in range(90 * 100):  # 100 per second for 90 s: 10 of them admitted each second
            box.receive("ack", ack(0), retained=False)
            clock.t += 0.01
        clock.t += 2.0
        box.receive("ack", ack(1), retained=False)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "MQTT: commands arrive faster than 10 per second; the excess is refused"
    assert len(lines) == 4, lines  # the start, a count after 60 s, the rest of the count, the end
    counts = [int(line.split()[1]) for line in lines[1:3]]
    assert lines[1].endswith("in the last 60 s (rate limit)") and 5000 <= counts[0] <= 5500  # ~90 refused a second
    assert 1 + sum(counts) == box.refused and 8000 <= box.refused <= 8200  # 9000 sent, about 10 a second admitted
    assert lines[3] == f"MQTT: the command flood is over: {box.refused} refused since start"


def test_a_full_queue_refuses_with_busy_and_keeps_what_it_holds():
    answers: list[dict] = []
    waiting: queue.Queue[Command] = queue.Queue(2)
    commands = [Command("ack", {"kind": "sleep"}, f"r{n}", answers.append) for n in range(3)]
    for command in commands:
        queue_or_refuse(waiting, command)
    assert [waiting.get_nowait().request_id for _ in range(2)] == ["r0", "r1"]
    assert answers == [{"v": 1, "ok": False, "command": "ack", "request_id": "r2",
                        "reason": "busy: 2 commands are waiting to run"}]
