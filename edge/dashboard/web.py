"""The HTTP side (aiohttp): the page and its assets, JSON, the Server-Sent Events stream, and acknowledgement.

GET  /, /device/{id}             the page (static/index.html; the script reads the path)
GET  /static/...                 its CSS and JS, served from this package: no CDN (a depot may have no internet)
GET  /api/devices                every device's tile, the counters, the MQTT link
GET  /api/devices/{id}           one device: tile, chart history, command results, its latest stored events
GET  /api/events?device=&limit=&before=   the event history from the store, oldest first
GET  /api/stream                 SSE: a `snapshot` first, then every change as it is folded
POST /api/devices/{id}/ack       {"id": ALERT_ID} or {"kind": KIND}: publishes dms/<id>/cmd/ack; the device's
                                 cmd/result comes back on the stream with the same request_id
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from edge.dashboard.auth import REALM, authorized
from edge.dashboard.hub import Hub
from edge.dashboard.link import Link
from edge.dashboard.store import StoreUnavailable
from edge.names import SCHEMA_VERSION, command_topic
from edge.sinks.commands import CommandError, parse_command
from edge.sinks.encoding import dumps, encode

STATIC = Path(__file__).parent / "static"
KEEPALIVE_S = 15.0  # an SSE comment this often: proxies and browsers keep an idle stream open
MAX_LIMIT = 1000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(doc), status=status, content_type="application/json")


def _error(status: int, reason: str) -> web.Response:
    return _json({"error": reason}, status)


def _int_arg(request: web.Request, name: str, default: int | None) -> int | None:
    value = request.query.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise web.HTTPBadRequest(text=dumps({"error": f"{name} must be a non-negative integer"}),
                                 content_type="application/json")
    return int(value)


def build_app(hub: Hub, link: Link, password: str | None) -> web.Application:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if password is not None and not authorized(request.headers.get("Authorization"), password):
            response: web.StreamResponse = web.Response(status=401, text="password required\n",
                                                        headers={"WWW-Authenticate": REALM})
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # 404s of unknown paths, bad query arguments
                exc.headers.update(HEADERS)
                raise
        if not response.prepared:  # the event stream sent its headers itself
            response.headers.update(HEADERS)
        return response

    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def devices(request: web.Request) -> web.Response:
        return _json({"devices": hub.fleet.snapshot(), "counts": hub.counts(),
                      "mqtt": {"connected": link.connected, "error": link.last_error}})

    async def device(request: web.Request) -> web.Response:
        detail = hub.fleet.detail(request.match_info["id"])
        if detail is None:
            return _error(404, "no such device")
        limit = min(_int_arg(request, "limit", 200) or 0, MAX_LIMIT)
        try:
            detail["events"] = [e.as_json() for e in hub.store.events(detail["id"], limit)]
        except StoreUnavailable as err:  # the live state is still worth showing without the history
            detail["events"], detail["events_error"] = [], f"event store unavailable: {err}"
        return _json(detail)

    async def events(request: web.Request) -> web.Response:
        limit = min(_int_arg(request, "limit", 200) or 0, MAX_LIMIT)
        try:
            stored = hub.store.events(request.query.get("device"), limit, _int_arg(request, "before", None))
        except StoreUnavailable as err:
            return _error(503, f"event store unavailable: {err}")
        return _json({"events": [e.as_json() for e in stored]})

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        response.headers.update(HEADERS)
        queue = hub.subscribe()  # before the snapshot: no change can fall between the two
        try:
            await response.prepare(request)
            snapshot = {"type": "snapshot", "devices": hub.fleet.snapshot(), "counts": hub.counts()}
            await response.write(f"retry: 1000\ndata: {dumps(snapshot)}\n\n".encode())
            while True:
                try:
                    change = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except asyncio.TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if change is None:
                    break
                await response.write(f"data: {dumps(change)}\n\n".encode())
        except ConnectionResetError:
            pass  # the browser left: noticed at the next write (a keepalive at the latest)
        finally:
            hub.unsubscribe(queue)
        return response

    async def ack(request: web.Request) -> web.Response:
        device_id = request.match_info["id"]
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            return _error(403, "cross-origin request refused")
        if request.content_type != "application/json":  # a cross-site form cannot send JSON without CORS
            return _error(415, "send application/json")
        if device_id not in hub.fleet.devices:
            return _error(404, "no such device")
        try:
            body = json.loads(await request.text())
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        payload = {"v": SCHEMA_VERSION, **{k: body[k] for k in ("id", "kind") if k in body},
                   "request_id": f"dash-{secrets.token_hex(6)}"}
        raw = encode(payload)
        try:
            parse_command("ack", raw)  # the device's own check: refuse here what it would refuse
        except CommandError as err:
            return _error(400, str(err))
        if not link.connected:
            return _error(503, f"not connected to the MQTT broker ({link.last_error or 'connecting'})")
        topic = f"dms/{device_id}/{command_topic('ack')}"
        if not link.publish(topic, raw):
            return _error(503, "the MQTT client refused the message")
        return _json({"request_id": payload["request_id"], "topic": topic, "payload": payload}, 202)

    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app.add_routes([
        web.get("/", page),
        web.get("/device/{id}", page),
        web.get("/api/devices", devices),
        web.get("/api/devices/{id}", device),
        web.get("/api/events", events),
        web.get("/api/stream", stream),
        web.post("/api/devices/{id}/ack", ack),
        web.static("/static", STATIC),
    ])
    return app
