"""The WebSocket API at /api/websocket: auth phase, command dispatch and a bounded send queue.

Protocol as Home Assistant's (auth_required/auth/auth_ok, ids, results, events, coalesced
arrays). The hub never waits for a client: messages go to a per-connection deque that one
writer task drains; a client that falls too far behind is disconnected with a logged reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import WSMsgType, web
from voluptuous.humanize import humanize_error

from hub.api import ws_messages as messages
from hub.api.auth_middleware import resolve_token
from hub.api.keys import HOME_OF_TOKEN_KEY, HUB_KEY
from hub.api.send_queue import OPEN_SENDERS, SendQueue, track_senders
from hub.api.ws_areas import register_area_commands
from hub.api.ws_auth import register_auth_commands
from hub.api.ws_commands import Command, CommandRegistry, collect_commands
from hub.api.ws_core import register_core_commands
from hub.api.ws_entities import register_entity_commands
from hub.api.ws_registry import register_registry_commands
from hub.api.ws_template import register_template_commands
from hub.api.ws_users import register_user_commands
from hub.core.context import Context
from hub.exceptions import HubError, Unauthorized

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

HA_VERSION = "2024.1.6"  # what clients expect to parse; our own version goes in get_config
AUTH_TIMEOUT = 10.0
MAX_MESSAGE_BYTES = 1024 * 1024  # larger commands get an error result
MAX_FRAME_BYTES = 4 * MAX_MESSAGE_BYTES  # larger frames close the socket (aiohttp's limit)
HEARTBEAT = 55.0

AUTH_MESSAGE = vol.Schema(
    {vol.Required("type"): "auth", vol.Exclusive("access_token", "auth"): str,
     vol.Exclusive("api_password", "auth"): str}
)


class Disconnect(HubError):
    """End the connection (auth failed, client gone)."""


class WebSocketStats:
    """Counters over every connection of one app, read by /metrics."""

    __slots__ = ("clients", "dropped_messages", "slow_disconnects")

    def __init__(self) -> None:
        self.clients = 0
        self.dropped_messages = 0
        self.slow_disconnects = 0


class WebSocketConnection:
    """One authenticated client: its user, subscriptions and send queue."""

    def __init__(self, hub: Hub, commands: CommandRegistry, cache: messages.EncodedEventCache,
                 request: web.Request) -> None:
        self.hub = hub
        self.commands = commands
        self.event_cache = cache
        self.request = request
        self.user: Any = None
        self.token: Any = None
        self.subscriptions: dict[int, Callable[[], None]] = {}
        self.supported_features: dict[str, Any] = {}
        self.last_id = 0
        self.remote = request.remote or "?"
        self.stats: WebSocketStats = request.app[STATS_KEY]
        self._ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_FRAME_BYTES)
        self._sender = SendQueue(self._ws, self.cancel)
        self._senders = request.app.get(OPEN_SENDERS)  # the home's open sockets (hub.api.send_queue.silence)
        # The hot path: bus callbacks call this directly.
        self.send_raw = self._sender.send
        self.is_behind = self._sender.is_behind
        self._closing = False
        self._stop_watching: Callable[[], object] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()

    # ---- sending (never blocks the caller) ----

    def send_result(self, msg_id: int, result: Any = None) -> None:
        """Send a success result for a command."""
        self.send_raw(messages.result_message(msg_id, result))

    def send_error(self, msg_id: int, code: str, message: str) -> None:
        """Send an error result with one of hub.api.ws_messages' ERR_* codes."""
        self.send_raw(messages.error_message(msg_id, code, message))

    def send_event(self, msg_id: int, event_payload: Any) -> None:
        """Send a subscription push (`{"id", "type": "event", "event"}`)."""
        self.send_raw(messages.event_message(msg_id, event_payload))

    def context(self, msg: dict[str, Any]) -> Context:
        """Return a new context for something this user asked for."""
        return Context(user_id=self.user.id if self.user is not None else None)

    def cancel(self, reason: str) -> None:
        """Disconnect this client because it fell behind (from any callback), logging why."""
        if self._closing:
            return
        self.stats.slow_disconnects += 1
        self.stats.dropped_messages += len(self._sender)
        self.close(reason)

    def close(self, reason: str) -> None:
        """Disconnect this client (from any callback), logging why."""
        if self._closing:
            return
        _LOGGER.warning(
            "Disconnecting WebSocket client %s (%s): %s",
            self.remote, getattr(self.user, "name", "not authenticated"), reason,
        )
        self._closing = True
        self._sender.close()
        self._spawn(self._ws.close())

    # ---- receiving ----

    async def handle(self) -> web.WebSocketResponse:
        """Run the connection until the client leaves or is disconnected."""
        ws = self._ws
        await ws.prepare(self.request)
        writer = self._loop.create_task(self._sender.run(), name="websocket writer")
        self.stats.clients += 1
        if self._senders is not None:
            self._senders.add(self._sender)
        try:
            self.send_raw(b'{"type":"auth_required","ha_version":"%b"}' % HA_VERSION.encode())
            await self._authenticate()
            await self._receive_commands()
        except (Disconnect, ConnectionError):
            pass
        finally:
            # Also on cancellation (server shutdown), which goes on up so the task ends cancelled.
            self.stats.clients -= 1
            self._closing = True
            if self._senders is not None:
                self._senders.discard(self._sender)
            if self._stop_watching is not None:
                self._stop_watching()
            for unsubscribe in self.subscriptions.values():
                unsubscribe()
            self.subscriptions.clear()
            self._sender.close()
            for task in list(self._tasks):
                task.cancel()
            writer.cancel()
            await ws.close()
        return ws

    async def _next_text(self, timeout: float | None = None) -> str | None:
        """Return the next text frame; None for frames we ignore; Disconnect when closed."""
        msg = await self._ws.receive(timeout)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            raise Disconnect
        if msg.type is not WSMsgType.TEXT:
            return None
        return msg.data  # type: ignore[no-any-return]

    async def _authenticate(self) -> None:
        try:
            text = await self._next_text(AUTH_TIMEOUT)
        except TimeoutError as err:
            _LOGGER.info("WebSocket client %s did not authenticate within %.0f s", self.remote, AUTH_TIMEOUT)
            raise Disconnect from err
        if text is None:
            raise Disconnect
        try:
            msg = AUTH_MESSAGE(messages.loads(text))
        except ValueError as err:  # invalid JSON (vol.Invalid is not a ValueError)
            raise Disconnect from err
        except vol.Invalid as err:
            await self._auth_invalid(f"Auth message incorrectly formatted: {humanize_error(text, err)}")
        found = None
        token = msg.get("access_token")
        home_of = self.request.get(HOME_OF_TOKEN_KEY)
        if token and home_of is not None:
            self._move_to(await home_of(token))
        if token and self.hub.auth is not None:
            found = await resolve_token(self.hub, token)
        if found is None:
            await self._auth_invalid("Invalid access token or password")
            return
        self.user, self.token = found.user, found.token
        self._sender.name = f"WebSocket client {self.remote} ({self.user.name})"
        # Logging out, revoking the session or the token ends this connection at once.
        self._stop_watching = self.hub.require_auth().revocations.listen(
            lambda kind, revoked: self.close(f"its {kind} was revoked") if found.ended_by(revoked) else None
        )
        self.send_raw(b'{"type":"auth_ok","ha_version":"%b"}' % HA_VERSION.encode())

    def _move_to(self, app: web.Application | None) -> None:
        """Serve another home's hub (one of many homes: the token's), before authentication ends."""
        if app is None or app[HUB_KEY] is self.hub:
            return
        self.stats.clients -= 1
        self.hub, self.commands, self.event_cache = app[HUB_KEY], app[COMMANDS_KEY], app[EVENT_CACHE_KEY]
        self.stats = app[STATS_KEY]
        self.stats.clients += 1
        if self._senders is not None:
            self._senders.discard(self._sender)
        self._senders = app.get(OPEN_SENDERS)
        if self._senders is not None:
            self._senders.add(self._sender)

    async def _auth_invalid(self, message: str) -> None:
        _LOGGER.info("WebSocket client %s failed to authenticate: %s", self.remote, message)
        self._closing = True
        self._sender.close()
        await self._ws.send_frame(messages.dumps({"type": "auth_invalid", "message": message}), WSMsgType.TEXT)
        raise Disconnect

    async def _receive_commands(self) -> None:
        while not self._closing:
            text = await self._next_text()
            if text is None:
                continue
            if len(text) > MAX_MESSAGE_BYTES:
                self.send_error(0, messages.ERR_INVALID_FORMAT,
                                f"Message too large: at most {MAX_MESSAGE_BYTES} bytes are accepted.")
                continue
            try:
                payload = messages.loads(text)
            except ValueError:
                self.send_error(0, messages.ERR_INVALID_FORMAT, "Message is not valid JSON.")
                continue
            if isinstance(payload, list):
                for item in payload:
                    self._dispatch(item)
            else:
                self._dispatch(payload)

    def _dispatch(self, msg: Any) -> None:
        """Check one command message and start its handler (HA's async_handle)."""
        msg_id = msg.get("id") if isinstance(msg, dict) else None
        if (
            not isinstance(msg, dict)
            or type(msg_id) is not int
            or not isinstance(msg.get("type"), str)
        ):
            self.send_error(msg_id if type(msg_id) is int else 0, messages.ERR_INVALID_FORMAT,
                            "Message incorrectly formatted.")
            return
        if msg_id <= self.last_id:
            self.send_error(msg_id, messages.ERR_ID_REUSE, "Identifier values have to increase.")
            return
        command = self.commands.get(msg["type"])
        if command is None:
            self.send_error(msg_id, messages.ERR_UNKNOWN_COMMAND, "Unknown command.")
            return
        self.last_id = msg_id
        try:
            if command.schema is not None:
                msg = command.schema(msg)
            if command.admin_only and not self.user.is_admin:
                if self.hub.auth is not None:
                    self.hub.auth.audit.record(self.user, msg["type"], None, "refused", self.remote,
                                               reason=f"admins only; user is {self.user.role}")
                raise Unauthorized
        except Exception as err:  # noqa: BLE001 - every failure becomes an error result
            self.handle_exception(msg_id, err)
            return
        self._spawn(self._run(command, msg))

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, command: Command, msg: dict[str, Any]) -> None:
        try:
            await command.handler(self.hub, self, msg)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - a handler's bug must not end the connection
            self.handle_exception(msg["id"], err)

    def handle_exception(self, msg_id: int, err: Exception) -> None:
        """Turn an exception into HA's error result."""
        if isinstance(err, Unauthorized):
            code, message = messages.ERR_UNAUTHORIZED, "Unauthorized"
        elif isinstance(err, vol.Invalid):
            code, message = messages.ERR_INVALID_FORMAT, humanize_error({}, err).replace(" @ data[]", "")
        elif isinstance(err, TimeoutError):
            code, message = messages.ERR_TIMEOUT, "Timeout"
        elif isinstance(err, HubError):
            code, message = messages.ERR_UNKNOWN_ERROR, str(err)
        else:
            _LOGGER.exception("Error handling WebSocket message %s", msg_id, exc_info=err)
            code, message = messages.ERR_UNKNOWN_ERROR, "Unknown error"
        self.send_error(msg_id, code, message)

    def enable_coalescing(self, enabled: bool) -> None:
        """Let the writer send several queued messages as one JSON array."""
        self._sender.coalesce = enabled


STATS_KEY: web.AppKey[WebSocketStats] = web.AppKey("ws_stats", WebSocketStats)
COMMANDS_KEY: web.AppKey[CommandRegistry] = web.AppKey("ws_commands", CommandRegistry)
EVENT_CACHE_KEY: web.AppKey[messages.EncodedEventCache] = web.AppKey(
    "ws_event_cache", messages.EncodedEventCache
)


def register_builtin_commands(registry: CommandRegistry) -> None:
    """Register every command the hub itself answers."""
    register_core_commands(registry)
    register_entity_commands(registry)
    register_auth_commands(registry)
    register_template_commands(registry)
    register_registry_commands(registry)
    register_area_commands(registry)
    register_user_commands(registry)


async def websocket_view(request: web.Request) -> web.StreamResponse:
    """Serve one WebSocket client at /api/websocket."""
    app = request.app
    connection = WebSocketConnection(app[HUB_KEY], app[COMMANDS_KEY], app[EVENT_CACHE_KEY], request)
    return await connection.handle()


def setup_websocket(app: web.Application) -> None:
    """Add /api/websocket; its commands are collected (hook included) when the app starts."""
    registry = CommandRegistry()
    register_builtin_commands(registry)

    async def collect(app: web.Application) -> None:
        await collect_commands(app[HUB_KEY], registry)

    app[COMMANDS_KEY] = registry
    app[STATS_KEY] = WebSocketStats()
    app[EVENT_CACHE_KEY] = messages.EncodedEventCache()
    track_senders(app)
    app.on_startup.append(collect)
    app.router.add_get("/api/websocket", websocket_view)
