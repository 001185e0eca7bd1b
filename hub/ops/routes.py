"""HTTP and WebSocket surfaces of operations: /metrics, /healthz, /readyz, system_log/*."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from hub.api.auth_middleware import bearer_token
from hub.api.http import HUB_KEY, resolve_token
from hub.api.websocket import COMMANDS_KEY, STATS_KEY
from hub.core.runtime import HubKey
from hub.ops import health
from hub.ops.logs import LogBuffer
from hub.ops.metrics import attach, metrics_of

if TYPE_CHECKING:
    from hub.core.hub import Hub

LOOPBACK = frozenset({"127.0.0.1", "::1"})
LOG_BUFFER: HubKey[LogBuffer] = HubKey("ops.log_buffer")


def set_log_buffer(hub: Hub, buffer: LogBuffer) -> None:
    """Make buffer the log view the hub's admins see over the WebSocket API."""
    hub.runtime[LOG_BUFFER] = buffer


def log_buffer_of(hub: Hub) -> LogBuffer | None:
    """Return the hub's in-memory log buffer, if it has one."""
    return hub.runtime.get(LOG_BUFFER)


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 while the process serves HTTP (liveness)."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Answer 200 when storage, broker and history backend work, else 503 naming what does not."""
    ready, checks = await health.readiness(request.app[HUB_KEY])
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return web.json_response(body, status=200 if ready else 503)


async def _may_scrape(request: web.Request) -> bool:
    hub = request.app[HUB_KEY]
    http = hub.config.raw.get("http") or {}
    if http.get("metrics_allow_loopback", True) and request.remote in LOOPBACK:
        return True
    token = bearer_token(request)
    if token is None:
        return False
    expected = http.get("metrics_token")
    if expected and hmac.compare_digest(token.encode(), str(expected).encode()):
        return True
    return hub.auth is not None and await resolve_token(hub, token) is not None


async def metrics_view(request: web.Request) -> web.Response:
    """Serve the Prometheus text format to loopback or to a scraper with a token."""
    if not await _may_scrape(request):
        return web.json_response({"message": "401: Unauthorized"}, status=401)
    hub = request.app[HUB_KEY]
    metrics = metrics_of(hub) or attach(hub)
    # Rendered on the loop: the collectors read dicts the loop mutates, and a scrape of a few
    # hundred lines takes well under a millisecond.
    body = metrics.render()
    from prometheus_client.exposition import CONTENT_TYPE_LATEST  # noqa: PLC0415 - imported by render() already

    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def system_log_list(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer system_log/list with the last records kept in memory."""
    buffer = log_buffer_of(hub)
    level = logging.getLevelName(msg["level"].upper()) if msg.get("level") else logging.NOTSET
    entries = buffer.list(msg.get("limit"), level) if buffer is not None else []
    connection.send_result(msg["id"], entries)


async def system_log_subscribe(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Push each new log record at or above the asked level to the client."""
    buffer = log_buffer_of(hub)
    if buffer is None:
        connection.send_error(msg["id"], "not_supported", "This hub keeps no log buffer")
        return
    level = logging.getLevelName(msg["level"].upper()) if msg.get("level") else logging.NOTSET
    msg_id = msg["id"]

    def forward(entry: dict[str, Any]) -> None:
        if entry["levelno"] >= level:
            connection.send_event(msg_id, entry)

    connection.subscriptions[msg_id] = buffer.subscribe(forward)
    connection.send_result(msg_id)


_LEVEL = vol.All(str, vol.Upper, vol.In(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")))


def add_ops_routes(app: web.Application) -> None:
    """Mount /metrics, /healthz and /readyz, and the admin log commands."""
    hub = app[HUB_KEY]
    metrics = metrics_of(hub) or attach(hub)
    if STATS_KEY in app:
        stats = app[STATS_KEY]
        metrics.websocket_stats = lambda: stats
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    if COMMANDS_KEY in app:
        commands = app[COMMANDS_KEY]
        schema = {vol.Optional("limit"): vol.All(int, vol.Range(min=1, max=10_000)), vol.Optional("level"): _LEVEL}
        commands.register("system_log/list", system_log_list, schema, admin_only=True)
        commands.register("system_log/subscribe", system_log_subscribe, {vol.Optional("level"): _LEVEL}, admin_only=True)
