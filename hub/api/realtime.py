"""The device API's realtime socket /api/v1/realtime: flat telemetry for simple mobile clients.

After a bearer-token handshake (the Authorization header of the upgrade request, or a first
message `{"action": "auth", "token": ...}`), `{"action": "subscribe"}` (optionally with
`device_ids`) streams, from the same bus the WebSocket API uses:
  {"type": "telemetry.live", "device_id", "entity_id", "value", "ts"}  a device's entity changed
  {"type": "device.status", "device_id", "online"}                     a device went on/offline
  {"type": "automation.trigger", "id", "name", "event", "ts"}          an automation triggered
  {"type": "command.status", "device_id", "command": {...}}            a device command moved on
                                                                       (queued, sent, acknowledged,
                                                                       confirmed, failed, expired ...)
The names are those of the device-centric contract (docs/api.md); the first version's
`telemetry`/`status`/`automation` had no client outside this repository and are gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from hub.api.auth_middleware import resolve_token
from hub.api.keys import HOME_OF_TOKEN_KEY, HUB_KEY
from hub.api.openapi import describe
from hub.api.send_queue import OPEN_SENDERS, SendQueue, track_senders
from hub.api.ws_messages import dumps, loads
from hub.core.bus import EVENT_DEVICE_COMMAND, EVENT_STATE_CHANGED, Event, callback
from hub.core.states import STATE_UNAVAILABLE, State

_LOGGER = logging.getLogger(__name__)

PATH = "/api/v1/realtime"
EVENT_AUTOMATION_TRIGGERED = "automation_triggered"
AUTH_TIMEOUT = 10.0
MAX_MESSAGE_BYTES = 64 * 1024


def telemetry_value(state: State) -> Any:
    """Return a state as a number when it is one, else as its string."""
    try:
        value = float(state.state)
    except ValueError:
        return state.state
    return int(value) if value.is_integer() and "." not in state.state else value


class RealtimeClient:
    """One realtime socket: auth, then a stream of flat device messages."""

    def __init__(self, hub: Any, request: web.Request) -> None:
        self.hub = hub
        self.request = request
        self.ws = web.WebSocketResponse(heartbeat=55.0, max_msg_size=MAX_MESSAGE_BYTES)
        self.sender = SendQueue(self.ws, self._overflow)
        self.unsubscribers: list[Callable[[], None]] = []
        self.stop_watching: Callable[[], object] = lambda: None
        self.online: dict[str, bool] = {}
        self.senders: set[SendQueue] | None = None

    def _overflow(self, reason: str) -> None:
        _LOGGER.warning("Disconnecting realtime client %s: %s", self.request.remote, reason)
        asyncio.get_running_loop().create_task(self.ws.close())

    def send(self, message: dict[str, Any]) -> None:
        self.sender.send(dumps(message))

    async def handle(self) -> web.WebSocketResponse:
        await self.ws.prepare(self.request)
        writer = asyncio.get_running_loop().create_task(self.sender.run(), name="realtime writer")
        senders = self.senders = self.request.app.get(OPEN_SENDERS)  # the home's (hub.api.send_queue.silence)
        if senders is not None:
            senders.add(self.sender)
        try:
            if await self._authenticate():
                await self._serve()
        finally:
            if self.senders is not None:
                self.senders.discard(self.sender)
            self.stop_watching()
            for unsubscribe in self.unsubscribers:
                unsubscribe()
            self.sender.close()
            writer.cancel()
            await self.ws.close()
        return self.ws

    async def _next(self, timeout: float | None = None) -> dict[str, Any] | None:
        msg = await self.ws.receive(timeout)
        if msg.type is not WSMsgType.TEXT:
            raise ConnectionError("closed")
        try:
            data = loads(msg.data)
        except ValueError:
            self.send({"type": "error", "message": "Message is not valid JSON."})
            return None
        if not isinstance(data, dict):
            self.send({"type": "error", "message": "Expected a JSON object with an 'action'."})
            return None
        return data

    async def _authenticate(self) -> bool:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                first = await self._next(AUTH_TIMEOUT)
                token = first.get("token", "") if first and first.get("action") == "auth" else ""
                home_of = self.request.get(HOME_OF_TOKEN_KEY)
                app = await home_of(token.strip()) if home_of is not None and isinstance(token, str) and token else None
                if app is not None:
                    self.hub = app[HUB_KEY]
                    if self.senders is not None:
                        self.senders.discard(self.sender)
                    self.senders = app.get(OPEN_SENDERS)
                    if self.senders is not None:
                        self.senders.add(self.sender)
            found = await resolve_token(self.hub, token.strip()) if isinstance(token, str) and token else None
        except (TimeoutError, ConnectionError):
            return False
        if found is None:
            await self.ws.send_frame(dumps({"type": "auth_invalid"}), WSMsgType.TEXT)
            return False

        def revoked(kind: str, revoked_id: str) -> None:
            if found.ended_by(revoked_id):
                _LOGGER.info("Closing realtime client %s: its %s was revoked", self.request.remote, kind)
                asyncio.get_running_loop().create_task(self.ws.close())

        self.stop_watching = self.hub.require_auth().revocations.listen(revoked)
        self.send({"type": "auth_ok"})
        return True

    async def _serve(self) -> None:
        while True:
            try:
                msg = await self._next()
            except ConnectionError:
                return
            if msg is None:
                continue
            if msg.get("action") == "subscribe" and not self.unsubscribers:
                device_ids = msg.get("device_ids")
                self._subscribe(set(device_ids) if isinstance(device_ids, list) else None)
                self.send({"type": "subscribed"})
            elif msg.get("action") == "ping":
                self.send({"type": "pong"})
            else:
                self.send({"type": "error", "message": f"Unknown action {msg.get('action')!r}"})

    def _device_online(self, device_id: str) -> bool:
        registry = self.hub.entity_registry
        for entry in registry.entries_for_device(device_id) if registry is not None else ():
            state = self.hub.states.get(entry.entity_id)
            if state is not None and state.state != STATE_UNAVAILABLE:
                return True
        return False

    def _subscribe(self, device_ids: set[str] | None) -> None:
        hub = self.hub

        @callback
        def state_changed(event: Event) -> None:
            entity = hub.entities.get(event.data["entity_id"])
            device_id = entity.device_id if entity is not None else None
            if device_id is None or (device_ids is not None and device_id not in device_ids):
                return
            new: State | None = event.data["new_state"]
            if new is not None and new.state != STATE_UNAVAILABLE:
                self.send({"type": "telemetry.live", "device_id": device_id, "entity_id": new.entity_id,
                           "value": telemetry_value(new), "ts": new.last_updated_timestamp})
            online = self._device_online(device_id)
            if self.online.get(device_id) != online:
                self.online[device_id] = online
                self.send({"type": "device.status", "device_id": device_id, "online": online})

        @callback
        def automation(event: Event) -> None:
            data = event.data
            self.send({"type": "automation.trigger", "id": data.get("id") or data.get("entity_id"),
                       "event": "triggered", "name": data.get("name"), "ts": event.time_fired_timestamp})

        @callback
        def command(event: Event) -> None:
            device_id = event.data.get("device_id")
            if device_ids is None or device_id in device_ids:
                self.send({"type": "command.status", "device_id": device_id, "command": event.data["command"]})

        for device in hub.device_registry.devices if hub.device_registry is not None else ():
            if device_ids is None or device.id in device_ids:
                self.online[device.id] = self._device_online(device.id)
        self.unsubscribers.append(hub.bus.listen(EVENT_STATE_CHANGED, state_changed))
        self.unsubscribers.append(hub.bus.listen(EVENT_AUTOMATION_TRIGGERED, automation))
        self.unsubscribers.append(hub.bus.listen(EVENT_DEVICE_COMMAND, command))


async def realtime_view(request: web.Request) -> web.StreamResponse:
    """Serve one realtime client."""
    return await RealtimeClient(request.app[HUB_KEY], request).handle()


OPENAPI_DESCRIPTION = """\
A WebSocket (send `Connection: Upgrade`, `Upgrade: websocket`). JSON text frames both ways.

Authenticate with `Authorization: Bearer <token>` on the upgrade request, or, from a browser,
with a first message `{"action": "auth", "token": "<token>"}`: the hub answers `{"type": "auth_ok"}`
or `{"type": "auth_invalid"}` and closes. Then:

- `{"action": "subscribe", "device_ids": [...]}` (`device_ids` optional: every device) answers
  `{"type": "subscribed"}` and starts the stream of events below;
- `{"action": "ping"}` answers `{"type": "pong"}`;
- anything else answers `{"type": "error", "message": ...}`.

Events, each `{"type": <name>, ...}` (see docs/api.md, "Realtime events"): `telemetry.live`
(a device's entity changed: `device_id`, `entity_id`, `value`, `ts`), `device.status` (a device
went on or offline: `device_id`, `online`), `automation.trigger` (an automation ran: `id`, `name`,
`ts`) and `command.status` (a device command moved on in its lifecycle).
The connection closes when its token's session is revoked, or when the client reads too slowly."""


def setup_realtime(app: web.Application) -> None:
    """Add /api/v1/realtime (it authenticates by itself, so browsers can send the token)."""
    app.router.add_get(PATH, realtime_view)
    track_senders(app)
    describe(app, {PATH: {"get": {
        "operationId": "realtime", "tags": ["realtime"], "summary": "The realtime event socket (WebSocket upgrade)",
        "description": OPENAPI_DESCRIPTION,
        "security": [],  # the token comes with the upgrade or in the first message
        "responses": {
            "101": {"description": "Switching to the WebSocket protocol"},
            "400": {"description": "Not a WebSocket upgrade request",
                    "content": {"text/plain": {"schema": {"type": "string"}}}},
        },
    }}})
