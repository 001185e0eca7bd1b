"""subscribe_entities: every matching state, then compressed diffs (HA's `a`/`c`/`r` format)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.api import ws_messages as messages
from hub.core.bus import EVENT_STATE_CHANGED, Event, callback
from hub.core.states import State

if TYPE_CHECKING:
    from hub.api.websocket import WebSocketConnection
    from hub.api.ws_commands import CommandRegistry
    from hub.core.hub import Hub

FILTER_SCHEMA = vol.Schema(
    {
        vol.Optional("domains"): [str],
        vol.Optional("entities"): [str],
        vol.Optional("entity_globs"): [str],
    }
)


def entity_filter(include: dict[str, Any] | None, exclude: dict[str, Any] | None) -> Callable[[str], bool] | None:
    """Return a predicate on entity_ids from include/exclude filters (None: everything)."""
    if not include and not exclude:
        return None

    def matches(spec: dict[str, Any], entity_id: str) -> bool:
        return (
            entity_id in spec.get("entities", ())
            or entity_id.partition(".")[0] in spec.get("domains", ())
            or any(fnmatch.fnmatchcase(entity_id, glob) for glob in spec.get("entity_globs", ()))
        )

    def accept(entity_id: str) -> bool:
        if exclude and matches(exclude, entity_id):
            return include is not None and entity_id in include.get("entities", ())
        return not include or matches(include, entity_id)

    return accept


def encode_change(event: Event) -> bytes:
    """Return the subscribe_entities payload for one state_changed event."""
    data = event.data
    entity_id = data["entity_id"]
    old: State | None = data["old_state"]
    new: State | None = data["new_state"]
    if new is None:
        return messages.dumps({"r": [entity_id]})
    if old is None:
        return messages.dumps({"a": {entity_id: messages.compressed_state(new)}})
    return messages.dumps({"c": {entity_id: messages.compressed_diff(old, new)}})


async def handle_subscribe_entities(hub: Hub, connection: WebSocketConnection, msg: dict[str, Any]) -> None:
    """Send all matching states compressed, then one diff per change, until unsubscribed."""
    msg_id = msg["id"]
    entity_ids = msg.get("entity_ids")
    accept = entity_filter(msg.get("include"), msg.get("exclude"))
    cached_frame = connection.event_cache.frame
    send_raw = connection.send_raw
    frame = messages.event_message_from_json

    is_behind = connection.is_behind

    @callback
    def forward(event: Event) -> None:
        data = event.data
        entity_id = data["entity_id"]
        if accept is not None and not accept(entity_id):
            return
        new = data["new_state"]
        if new is not None and is_behind():
            # Behind (send_queue): the entity's whole state ("a"), which replaces one still waiting;
            # a diff could not, as the client never saw the state it was taken from.
            full = messages.dumps({"a": {entity_id: messages.compressed_state(new)}})
            send_raw(frame(msg_id, full), (msg_id, entity_id))
            return
        send_raw(cached_frame(event, "entities", msg_id, encode_change))

    if entity_ids:
        # The per-entity index: this subscription costs nothing for other entities' writes.
        unsubscribe = hub.states.track(entity_ids, forward)
        states = [s for s in (hub.states.get(e) for e in entity_ids) if s is not None]
    else:
        unsubscribe = hub.bus.listen(EVENT_STATE_CHANGED, forward)
        states = hub.states.all()
    if accept is not None:
        states = [s for s in states if accept(s.entity_id)]
    connection.subscriptions[msg_id] = unsubscribe
    connection.send_result(msg_id)
    connection.send_raw(
        frame(msg_id, messages.dumps({"a": {s.entity_id: messages.compressed_state(s) for s in states}}))
    )


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def register_entity_commands(registry: CommandRegistry) -> None:
    """Register subscribe_entities."""
    registry.register(
        "subscribe_entities",
        handle_subscribe_entities,
        {
            vol.Optional("entity_ids"): vol.All(vol.Any(str, [str]), _as_list),
            vol.Optional("include"): FILTER_SCHEMA,
            vol.Optional("exclude"): FILTER_SCHEMA,
        },
    )
