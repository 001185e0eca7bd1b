"""The `render_template` WebSocket command (Home Assistant's): render, then re-render on changes.

Admins only, as in Home Assistant: a template reads every state. Each render runs within the
hub's template limits (hub.templating.limits: a CPU budget per render and an output cap), so
a template that loops without end is answered with a `template_error` naming its author and
the connection's other commands, and every other client, keep being served.

The subscription pushes `{"result", "listeners"}` after each render and re-renders when a state
it read changes (no more often than Home Assistant's rate limit when it read whole domains or
every state), and every minute when it read the clock.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.api import ws_messages as messages
from hub.core.bus import callback
from hub.exceptions import TemplateError
from hub.templating import Template

if TYPE_CHECKING:
    from hub.api.websocket import WebSocketConnection
    from hub.api.ws_commands import CommandRegistry
    from hub.core.bus import Event
    from hub.core.hub import Hub
    from hub.templating.render_info import RenderInfo

_LOGGER = logging.getLogger(__name__)
TIME_INTERVAL = 60.0  # seconds between re-renders of a template that reads the clock

SCHEMA = {
    vol.Required("template"): str,
    vol.Optional("entity_ids"): vol.Any(str, [str]),
    vol.Optional("variables"): dict,
    vol.Optional("timeout"): vol.Coerce(float),
    vol.Optional("strict", default=False): bool,
    vol.Optional("report_errors", default=False): bool,
}


class _Subscription:
    """One render_template subscription: its template, what it read, and when it renders next."""

    def __init__(self, hub: Hub, connection: WebSocketConnection, msg: dict[str, Any], template: Template) -> None:
        self.hub = hub
        self.connection = connection
        self.msg_id: int = msg["id"]
        self.variables: dict[str, Any] = dict(msg.get("variables") or {})
        self.strict: bool = msg["strict"]
        self.report_errors: bool = msg["report_errors"]
        self.template = template
        self.info: RenderInfo | None = None
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._unlisten = hub.bus.listen("state_changed", self._state_changed)

    def render(self) -> RenderInfo:
        self._last = asyncio.get_running_loop().time()
        self.info = self.template.render_info(self.variables, strict=self.strict)
        return self.info

    def push(self, info: RenderInfo) -> None:
        """Send one render's outcome as an event of the subscription."""
        if info.exception is not None:
            _LOGGER.debug("render_template %s: %s", self.msg_id, info.exception)
            if self.report_errors:
                self.connection.send_event(self.msg_id, {"error": str(info.exception), "level": "ERROR"})
            return
        self.connection.send_event(self.msg_id, {"result": info.result, "listeners": info.listeners()})
        if info.has_time:
            self._schedule(TIME_INTERVAL)

    @callback
    def _state_changed(self, event: Event) -> None:
        info = self.info
        entity_id = event.data.get("entity_id")
        if info is None or not isinstance(entity_id, str) or not info.filter(entity_id):
            return
        limit = info.rate_limit
        if limit is None:
            self.push(self.render())
            return
        wait = self._last + limit - asyncio.get_running_loop().time()
        if wait <= 0:
            self.push(self.render())
        else:
            self._schedule(wait)

    def _schedule(self, delay: float) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(delay, self._timed)

    def _timed(self) -> None:
        self._timer = None
        self.push(self.render())

    def cancel(self) -> None:
        self._unlisten()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def handle_render_template(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Render a template for the client and keep it up to date (HA's render_template)."""
    user = connection.user.name if connection.user is not None else "?"
    template = Template(msg["template"], hub, origin=f"the render_template of user {user}")
    try:
        template.ensure_valid()
    except TemplateError as err:
        connection.send_error(msg["id"], messages.ERR_TEMPLATE_ERROR, str(err))
        return
    subscription = _Subscription(hub, connection, msg, template)
    info = subscription.render()
    if info.exception is not None and not subscription.report_errors:
        subscription.cancel()
        connection.send_error(msg["id"], messages.ERR_TEMPLATE_ERROR, str(info.exception))
        return
    connection.subscriptions[msg["id"]] = subscription.cancel
    connection.send_result(msg["id"])
    subscription.push(info)


def register_template_commands(registry: CommandRegistry) -> None:
    """Register render_template."""
    registry.register("render_template", handle_render_template, SCHEMA, admin_only=True)
