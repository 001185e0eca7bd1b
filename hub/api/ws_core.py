"""The core WebSocket commands: ping, states, config, services, events and service calls."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.api import ws_messages as messages
from hub.api.permissions import can_control
from hub.api.service_info import describe_services
from hub.auth.audit import describe_target
from hub.core.bus import EVENT_STATE_CHANGED, MATCH_ALL, EventOrigin, callback
from hub.exceptions import HubError, ServiceNotFound, ServiceValidationError, Unauthorized

if TYPE_CHECKING:
    from hub.api.websocket import WebSocketConnection
    from hub.api.ws_commands import CommandRegistry
    from hub.core.bus import Event
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

# Event types a user who is not an admin may subscribe to (HA's SUBSCRIBE_ALLOWLIST, trimmed
# to what the hub fires).
SUBSCRIBE_ALLOWLIST = frozenset(
    {
        "state_changed",
        "service_registered",
        "service_removed",
        "core_config_updated",
        "device_registry_updated",
        "entity_registry_updated",
        "area_registry_updated",
        "component_loaded",
        "themes_updated",
        "panels_updated",
        "lovelace_updated",
    }
)

TARGET_SCHEMA = vol.Schema(
    {
        vol.Optional(key): vol.Any(str, [str])
        for key in ("entity_id", "device_id", "area_id", "floor_id", "label_id")
    }
)


async def handle_ping(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Answer ping with pong."""
    connection.send_raw(messages.pong_message(msg["id"]))


async def handle_supported_features(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Record the client's features; coalesce_messages lets the hub batch frames."""
    features = msg["features"]
    connection.supported_features = features
    connection.send_result(msg["id"])
    connection.enable_coalescing(bool(features.get("coalesce_messages")))


async def handle_get_states(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Return every state."""
    connection.send_raw(
        b'{"id":%d,"type":"result","success":true,"result":%b}'
        % (msg["id"], messages.dumps([state.as_dict() for state in hub.states.all()]))
    )


async def handle_get_config(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Return the hub's configuration (HA's Config.as_dict)."""
    connection.send_result(msg["id"], hub.config.as_dict(hub.state.value))


async def handle_get_services(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Return {domain: {service: description}}."""
    connection.send_result(msg["id"], describe_services(hub))


async def handle_subscribe_events(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Forward events of one type (or all) until unsubscribed; encode each event once."""
    event_type = msg["event_type"]
    if event_type not in SUBSCRIBE_ALLOWLIST and not connection.user.is_admin:
        _LOGGER.warning("User %s may not subscribe to %s events", connection.user.name, event_type)
        if hub.auth is not None:
            hub.auth.audit.record(connection.user, "subscribe_events", str(event_type), "refused", connection.remote,
                                  reason="only admins may subscribe to this event type")
        raise Unauthorized
    msg_id = msg["id"]
    frame = connection.event_cache.frame
    send_raw = connection.send_raw
    encode = messages.encode_event

    if event_type == EVENT_STATE_CHANGED:
        # Keyed by entity: a client that falls behind gets each entity's latest state (send_queue).

        @callback
        def forward(event: Event) -> None:
            send_raw(frame(event, "event", msg_id, encode), (msg_id, event.data.get("entity_id")))
    else:

        @callback
        def forward(event: Event) -> None:
            send_raw(frame(event, "event", msg_id, encode))

    connection.subscriptions[msg_id] = hub.bus.listen(event_type, forward)
    connection.send_result(msg_id)


async def handle_unsubscribe_events(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """End any subscription of this connection by the id of the command that made it."""
    unsubscribe = connection.subscriptions.pop(msg["subscription"], None)
    if unsubscribe is None:
        connection.send_error(msg["id"], messages.ERR_NOT_FOUND, "Subscription not found.")
        return
    unsubscribe()
    connection.send_result(msg["id"])


async def handle_call_service(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Call a service and answer when it finished: {"context", "response"}."""
    domain, service = msg["domain"], msg["service"]
    target = msg.get("target")
    audit = hub.auth.audit if hub.auth is not None else None
    what = f"{domain}.{service}"
    where = describe_target(msg.get("service_data"), target)
    if can_control(connection.user):
        refusal = hub.services.refusal(domain, service, connection.user, msg.get("service_data"))
        answer = f"Unauthorized: {refusal}"
    else:
        refusal = f"role {connection.user.role} may not call services"
        answer = "Unauthorized"  # Home Assistant's answer, word for word
    if refusal is not None:
        if audit is not None:
            audit.record(connection.user, "call_service", f"{what} {where}".strip(), "refused", connection.remote,
                         reason=refusal)
        connection.send_error(msg["id"], messages.ERR_UNAUTHORIZED, answer)
        return
    context = connection.context(msg)
    code, reason = None, None
    try:
        response = await hub.services.call(
            domain,
            service,
            msg.get("service_data"),
            target=target,
            context=context,
            blocking=True,
            return_response=msg["return_response"],
        )
    except ServiceNotFound:
        code, text = messages.ERR_NOT_FOUND, f"Service {domain}.{service} not found."
    except ServiceValidationError as err:
        code, text = messages.ERR_SERVICE_VALIDATION_ERROR, str(err)
    except vol.Invalid as err:
        code, text = messages.ERR_INVALID_FORMAT, str(err)
    except Unauthorized as err:
        code, text = messages.ERR_UNAUTHORIZED, str(err) or "Unauthorized"
        reason = text
    except HubError as err:
        code, text = messages.ERR_HOME_ASSISTANT_ERROR, str(err)
    except Exception:  # noqa: BLE001 - an integration's bug becomes an error result
        _LOGGER.exception("Error calling service %s", what)
        code, text = messages.ERR_UNKNOWN_ERROR, "Unknown error"
    if audit is not None:
        audit.record(connection.user, "call_service", f"{what} {where}".strip(), code or "ok",
                     connection.remote, reason=reason, context=context)
    if code is not None:
        connection.send_error(msg["id"], code, text)
        return
    connection.send_result(msg["id"], {"context": context.as_dict(), "response": response})


async def handle_fire_event(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Fire an event as the user (admins only)."""
    context = connection.context(msg)
    hub.bus.fire(msg["event_type"], msg.get("event_data"), EventOrigin.remote, context)
    connection.send_result(msg["id"], {"context": context.as_dict()})


def register_core_commands(registry: CommandRegistry) -> None:
    """Register the core commands."""
    registry.register("ping", handle_ping, {})
    registry.register(
        "supported_features", handle_supported_features, {vol.Required("features"): {str: vol.Any(int, bool)}}
    )
    registry.register("get_states", handle_get_states, {})
    registry.register("get_config", handle_get_config, {})
    registry.register("get_services", handle_get_services, {})
    registry.register(
        "subscribe_events",
        handle_subscribe_events,
        {vol.Optional("event_type", default=MATCH_ALL): str},
    )
    registry.register("unsubscribe_events", handle_unsubscribe_events, {vol.Required("subscription"): int})
    registry.register(
        "call_service",
        handle_call_service,
        {
            vol.Required("domain"): str,
            vol.Required("service"): str,
            vol.Optional("target"): TARGET_SCHEMA,
            vol.Optional("service_data"): dict,
            vol.Optional("return_response", default=False): bool,
        },
    )
    registry.register(
        "fire_event",
        handle_fire_event,
        {vol.Required("event_type"): str, vol.Optional("event_data"): dict},
        admin_only=True,
    )
