"""`dms dashboard`: its arguments, then open the store, connect to the broker, serve until SIGINT or SIGTERM.

Everything that can be refused (aiohttp missing, the store URL, the listening address without a password) is
checked before anything starts, as a DashboardUsageError (exit code 2). aiohttp is imported only here, when the
command runs: the daemon never needs it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edge.config import MqttConfig
from edge.dashboard.auth import AuthError, Listen, check_listen, parse_listen, read_password
from edge.dashboard.fleet import Fleet
from edge.dashboard.hub import Hub
from edge.dashboard.store import EventStore, StoreError, open_store

log = logging.getLogger("edge.dashboard")


class DashboardUsageError(Exception):
    pass


@dataclass(frozen=True)
class Options:
    mqtt: MqttConfig
    listen: Listen
    password: str | None
    history_s: float = 600.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mqtt", metavar="URL", help="the broker: mqtt://[USER@]HOST[:PORT], mqtts:// for TLS (default: "
                   "[mqtt] of --config)")
    p.add_argument("--store", metavar="URL", help="the event history: sqlite:///PATH or a file path (default: "
                   "dashboard.sqlite in $STATE_DIRECTORY, else ~/.local/state/dms)")
    p.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                   help="where to serve (default 127.0.0.1:8080); beyond loopback a password is required")
    p.add_argument("--password-file", metavar="FILE", help="the password, asked by HTTP Basic authentication "
                   "(default: the credential dashboard-password in $CREDENTIALS_DIRECTORY)")
    p.add_argument("--history-s", type=float, default=600.0, metavar="S",
                   help="seconds of live chart history kept per device (default 600)")


def run(args: argparse.Namespace, mqtt_config: Callable[[], MqttConfig]) -> int:
    """`mqtt_config`: [mqtt] of --config with --mqtt applied, parsed as `dms replay --mqtt` parses it."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise DashboardUsageError("needs aiohttp: pip install 'edge-dms[dashboard]' (make venv installs it)") from None
    if args.history_s <= 0:
        raise DashboardUsageError("--history-s must be > 0")
    mqtt = mqtt_config()
    try:
        listen = parse_listen(args.listen)
        password = read_password(Path(args.password_file) if args.password_file else None)
        check_listen(listen, password)  # before the store file is created
        store = open_store(args.store)
    except (AuthError, StoreError) as err:
        raise DashboardUsageError(str(err)) from None
    try:
        return asyncio.run(_serve(Options(mqtt, listen, password, args.history_s), store))
    finally:
        store.close()


async def _serve(options: Options, store: EventStore) -> int:
    from aiohttp import web

    from edge.dashboard.link import Link
    from edge.dashboard.web import build_app

    loop = asyncio.get_running_loop()
    hub = Hub(Fleet(options.history_s), store, loop)
    link = Link(options.mqtt, hub.from_mqtt)
    app = build_app(hub, link, options.password)

    async def close_streams(_: web.Application) -> None:  # open event streams would hold the shutdown
        hub.close_streams()

    app.on_shutdown.append(close_streams)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, options.listen.host, options.listen.port, shutdown_timeout=2.0)
        try:
            await site.start()
        except OSError as err:
            raise RuntimeError(f"cannot listen on {options.listen.host}:{options.listen.port}: {err}") from None
        listen = Listen(*runner.addresses[0][:2])
        link.start()
        scheme = "mqtts" if options.mqtt.tls else "mqtt"
        print(f"dms dashboard: serving {listen.url}/ (MQTT {scheme}://{options.mqtt.host}:{options.mqtt.port}, "
              f"{'password required' if options.password else 'no password: loopback only'})",
              file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        hub.close_streams()
        await runner.cleanup()
        link.close()
    return 0
