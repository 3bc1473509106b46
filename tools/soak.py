#!/usr/bin/env python3
"""Soak: `dms run` on a looping clip for hours, with broker outages, watching for leaks and lost alerts.

    nice -n 19 .venv/bin/python tools/soak.py --duration 2h --outages 10 --out build/soak-2h.json
    nice -n 19 .venv/bin/python tools/soak.py --short --out build/soak-short.json   # 60 s, 2 outages of 3-6 s

The daemon runs as in the vehicle (`python -m edge.cli run`, this checkout) on a clip looped at its own frame rate
(default: the demo clip WolfgangLanger_Pexels.mp4, whose closed eyes raise microsleep, sleep and drowsiness alerts
every loop), with a real mosquitto on a free loopback port (tools/mqtt_broker.py). N outages are spread over the
run, one in each of N equal slots between 10 % and 90 % of it, at a random time and for a random 5-60 s (seeded:
--seed repeats a run): the broker is stopped and restarted on the same port. The broker keeps sessions across a
restart, and the subscriber has a persistent session, so an event is missed only if the daemon never sent it.

Events produced: the daemon's own `--jsonl` output (every message it publishes, written before the MQTT sink
stores it). Events delivered: what the subscriber receives on `events`. Matched by (alert id, type, t).
Every --interval (30 s) the daemon's RSS (VmRSS), threads, open fds (/proc), the outbox's `pending` rows from its
latest health message and the outbox file's size are sampled. At the end the daemon gets SIGTERM (it ends the open
alerts and flushes the outbox) and the analysis (tools/soak_report.py) gives RSS growth per hour (linear fit after
the first 10 % of the run), fds and threads min/max, outbox max, events produced/delivered/lost and a verdict.
Prints a summary; --out writes it with the time series as JSON. Exit code 0 on a pass, 1 on a fail, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mqtt_broker import Mosquitto, Subscriber, stop_process  # noqa: E402
from soak_report import EventKey, Limits, analyse, summary  # noqa: E402

DEVICE = "soak"
DEFAULT_CLIP = "WolfgangLanger_Pexels.mp4"
OUTAGE_SPREAD = (0.1, 0.9)  # outages fall between these fractions of the run: none during start-up or shutdown
DRAIN_TIMEOUT_S = 60.0  # after the daemon stopped: how long delivery of what it produced may still take


@dataclass(frozen=True)
class Outage:
    start_s: float
    length_s: float


def plan_outages(seed: int, duration_s: float, count: int, min_s: float, max_s: float) -> list[Outage]:
    """One outage per equal slot of the spread, at a random start and of a random length that fit in its slot."""
    if count <= 0:
        return []
    rng = random.Random(seed)
    lo, hi = OUTAGE_SPREAD[0] * duration_s, OUTAGE_SPREAD[1] * duration_s
    slot = (hi - lo) / count
    if slot < min_s + 1.0:
        raise ValueError(f"{count} outages of >= {min_s} s do not fit in a {duration_s:.0f} s run")
    plan = []
    for i in range(count):
        length = rng.uniform(min_s, min(max_s, slot - 1.0))
        start = lo + i * slot + rng.uniform(0.0, slot - length - 1.0)
        plan.append(Outage(round(start, 1), round(length, 1)))
    return plan


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 30m, 2h)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def checkout_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


class EventLog:
    """Follows the daemon's JSONL output: the keys of the `events` lines, read as they are written."""

    def __init__(self, path: Path):
        self.path = path
        self.keys: list[EventKey] = []
        self._offset = 0
        self._partial = b""

    def read(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()  # an incomplete last line waits for its end
        for line in lines:
            if line.startswith(b'{"topic":"events"'):
                e = json.loads(line)["payload"]
                self.keys.append((e["id"], e["type"], e["t"]))


class Deliveries:
    """What the subscriber received: event keys, and the outbox's `pending` of every health message."""

    def __init__(self, sub: Subscriber):
        self.sub = sub
        self.keys: set[EventKey] = set()
        self.pending: int | None = None
        self.max_pending = 0
        self._seen = 0

    def read(self) -> None:
        new = self.sub.since(self._seen)
        self._seen += len(new)
        for topic, payload, _ in new:
            msg = json.loads(payload)
            if topic.endswith("/events"):
                self.keys.add((msg["id"], msg["type"], msg["t"]))
            elif topic.endswith("/health"):
                broker = msg.get("components", {}).get("broker") or {}
                self.pending = (broker.get("metrics") or {}).get("pending")
                if self.pending is not None:
                    self.max_pending = max(self.max_pending, self.pending)


def proc_sample(pid: int) -> dict[str, Any]:
    status = Path(f"/proc/{pid}/status").read_text()
    field = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_mb": round(int(field["VmRSS"].split()[0]) / 1024.0, 2),
        "threads": int(field["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def write_config(work: Path, port: int) -> Path:
    cfg = work / "dms.toml"
    cfg.write_text(
        f'device_id = "{DEVICE}"\n[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n'
        f'outbox_path = "{work / "outbox.sqlite"}"\nhomeassistant = false\n'
    )
    return cfg


def start_daemon(work: Path, config: Path, clip: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(name, None)
    with open(work / "daemon.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "run", "--config", str(config), "--camera", str(clip),
             "--jsonl", str(work / "run.jsonl")],
            cwd=ROOT, env=env, stdout=log, stderr=log,
        )


def restart_broker(broker: Mosquitto, attempts: int = 5) -> None:
    for attempt in range(attempts):
        try:
            broker.start()
            return
        except (RuntimeError, TimeoutError):
            broker.proc = None
            if attempt == attempts - 1:
                raise
            time.sleep(1.0)


def soak(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="dms-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    plan = plan_outages(args.seed, args.duration, args.outages, args.outage_min, args.outage_max)
    broker = Mosquitto(persistence=True)  # the subscriber's session and queue survive the outages
    broker.start()
    sub = Subscriber(broker, [f"dms/{DEVICE}/events", f"dms/{DEVICE}/health"], client_id="dms-soak-subscriber",
                     persistent=True)
    deliveries, events = Deliveries(sub), EventLog(work / "run.jsonl")
    commit = checkout_commit()
    daemon = start_daemon(work, write_config(work, broker.port), args.clip)
    print(f"soak: daemon pid {daemon.pid} from {commit}, broker on port {broker.port}, work dir {work}", flush=True)
    samples: list[dict[str, Any]] = []
    outages: list[dict[str, Any]] = []
    t0 = time.monotonic()
    next_sample, todo, down_since = args.interval, list(plan), None  # the first sample after start-up
    try:
        while (now := time.monotonic() - t0) < args.duration and daemon.poll() is None:
            if down_since is None and todo and now >= todo[0].start_s:
                broker.stop()
                down_since = now
            elif down_since is not None and now >= down_since + todo[0].length_s:
                restart_broker(broker)
                outages.append({**asdict(todo.pop(0)), "down_s": round(down_since, 1), "up_s": round(now, 1)})
                down_since = None
            if now >= next_sample:
                events.read()
                deliveries.read()
                samples.append({"t": round(now, 1), **proc_sample(daemon.pid), "pending": deliveries.pending,
                                "outbox_bytes": file_bytes(work / "outbox.sqlite"), "produced": len(events.keys),
                                "delivered": len(deliveries.keys), "broker_up": down_since is None})
                if args.verbose:
                    print(json.dumps(samples[-1]), flush=True)
                next_sample += args.interval
            time.sleep(0.2)
        if down_since is not None:
            restart_broker(broker)
            outages.append({**asdict(todo.pop(0)), "down_s": round(down_since, 1),
                            "up_s": round(time.monotonic() - t0, 1), "cut_short": True})
        run_s = time.monotonic() - t0
        exit_code = daemon.poll()
        if exit_code is None:  # still running, as it should: SIGTERM ends the open alerts and flushes the outbox
            stop_process(daemon, signal.SIGTERM, 60.0)
            exit_code = daemon.returncode
        else:
            print(f"soak: the daemon exited early with {exit_code} (see {work / 'daemon.log'})", flush=True)
        events.read()
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline:
            deliveries.read()
            if set(events.keys) <= deliveries.keys:
                break
            time.sleep(0.2)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)
        sub.close()
        broker.close()
    limits = Limits(rss_growth_mb_per_h=args.max_rss_growth)
    report = analyse(samples, events.keys, deliveries.keys, run_s, len(plan), len(outages), limits, exit_code,
                     deliveries.max_pending)
    return {
        "commit": commit, "clip": str(args.clip), "seed": args.seed, "duration_s": args.duration,
        "interval_s": args.interval, "work_dir": str(work), "report": report, "outages": outages,
        "samples": samples,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=parse_duration, default=parse_duration("2h"), help="e.g. 90s, 30m, 2h")
    p.add_argument("--outages", type=int, default=10)
    p.add_argument("--outage-min", type=float, default=5.0, help="seconds")
    p.add_argument("--outage-max", type=float, default=60.0, help="seconds")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between samples")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--clip", type=Path, help=f"a video file, looped; default: the demo clip {DEFAULT_CLIP}")
    p.add_argument("--max-rss-growth", type=float, default=Limits.rss_growth_mb_per_h, help="MB/h")
    p.add_argument("--short", action="store_true", help="60 s, 2 outages of 3-6 s, a sample every 5 s")
    p.add_argument("--work-dir", type=Path, help="the daemon's config, outbox, JSONL and log; default: a temp dir")
    p.add_argument("--out", type=Path, help="write the report and the time series as JSON")
    p.add_argument("--verbose", action="store_true", help="print every sample")
    args = p.parse_args(argv)
    if args.short:
        args.duration, args.outages, args.outage_min, args.outage_max, args.interval = 60.0, 2, 3.0, 6.0, 5.0
    if args.clip is None:
        from edge.demo import clip_path

        args.clip = clip_path(DEFAULT_CLIP)
    if not args.clip.is_file():
        p.error(f"no such clip: {args.clip}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        plan_outages(args.seed, args.duration, args.outages, args.outage_min, args.outage_max)
    except ValueError as err:
        print(f"soak: {err}", file=sys.stderr)
        return 2
    result = soak(args)
    print(summary(result["report"]), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["report"]["verdict"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
