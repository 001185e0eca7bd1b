"""WebSocket message shapes and their JSON encoding (orjson, bytes in, one frame out)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

import orjson

from hub.core.bus import EVENT_STATE_CHANGED, Event, EventOrigin, iso_utc
from hub.core.context import Context
from hub.core.states import State

# HA's error codes (websocket_api/const.py).
ERR_ID_REUSE = "id_reuse"
ERR_INVALID_FORMAT = "invalid_format"
ERR_NOT_ALLOWED = "not_allowed"
ERR_NOT_FOUND = "not_found"
ERR_NOT_SUPPORTED = "not_supported"
ERR_HOME_ASSISTANT_ERROR = "home_assistant_error"
ERR_SERVICE_VALIDATION_ERROR = "service_validation_error"
ERR_UNKNOWN_COMMAND = "unknown_command"
ERR_UNKNOWN_ERROR = "unknown_error"
ERR_UNAUTHORIZED = "unauthorized"
ERR_TIMEOUT = "timeout"
ERR_TEMPLATE_ERROR = "template_error"


def _default(value: Any) -> Any:
    """Encode what orjson does not know: states, events, sets, enums, anything with as_dict."""
    as_dict = getattr(value, "as_dict", None)
    if as_dict is not None:
        return as_dict()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> bytes:
    """Encode a value as compact JSON bytes; unknown objects become their as_dict() or str()."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def loads(data: str | bytes) -> Any:
    """Decode JSON text (raises orjson.JSONDecodeError, a ValueError)."""
    return orjson.loads(data)


def result_message(msg_id: int, result: Any = None) -> bytes:
    """Return a success result."""
    return dumps({"id": msg_id, "type": "result", "success": True, "result": result})


def error_message(msg_id: int | None, code: str, message: str) -> bytes:
    """Return an error result with one of the ERR_* codes."""
    return dumps(
        {
            "id": msg_id,
            "type": "result",
            "success": False,
            "error": {"code": code, "message": message},
        }
    )


def event_message(msg_id: int, event: Any) -> bytes:
    """Return a subscription push for any JSON-able payload."""
    return dumps({"id": msg_id, "type": "event", "event": event})


def event_message_from_json(msg_id: int, event_json: bytes) -> bytes:
    """Return a subscription push whose payload is already encoded (shared by every subscriber)."""
    return b'{"id":%d,"type":"event","event":%b}' % (msg_id, event_json)


def pong_message(msg_id: int) -> bytes:
    """Return the answer to ping."""
    return b'{"id":%d,"type":"pong"}' % msg_id


class EncodedEventCache:
    """Encode each event once, and frame it once per subscription id, for every subscriber.

    The bus hands every subscriber the same Event object before it fires the next one, so
    remembering the last event per kind (by identity; the entry holds the event, so its
    identity cannot be reused) turns N encodings into one. Clients number their
    subscriptions alike (the JS library subscribes early, with small ids), so most
    subscribers share the framed bytes too.
    """

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        # kind -> [event, its JSON, the first subscription id framed, that frame, other ids' frames]
        self._entries: dict[str, list[Any]] = {}

    def get(self, event: object, kind: str, encode: Any) -> bytes:
        """Return encode(event) for this event and kind, computed once."""
        entry = self._entries.get(kind)
        if entry is None or entry[0] is not event:
            entry = self._entries[kind] = [event, encode(event), None, b"", None]
        encoded: bytes = entry[1]
        return encoded

    def frame(self, event: object, kind: str, msg_id: int, encode: Any) -> bytes:
        """Return the whole `{"id","type":"event","event"}` message for a subscription id."""
        entry = self._entries.get(kind)
        if entry is None or entry[0] is not event:
            encoded = encode(event)
            data = b'{"id":%d,"type":"event","event":%b}' % (msg_id, encoded)
            self._entries[kind] = [event, encoded, msg_id, data, None]  # no dict per event: one subscriber is usual
            return data
        if entry[2] == msg_id:
            framed: bytes = entry[3]
            return framed
        if entry[2] is None:  # encoded through get() only
            entry[2] = msg_id
            entry[3] = data = b'{"id":%d,"type":"event","event":%b}' % (msg_id, entry[1])
            return data
        others = entry[4]
        if others is None:
            others = entry[4] = {}
        data = others.get(msg_id)
        if data is None:
            data = others[msg_id] = b'{"id":%d,"type":"event","event":%b}' % (msg_id, entry[1])
        return data


_last_context: tuple[Context | None, bytes] = (None, b"")  # the last context encoded, by identity


def context_json(context: Context) -> bytes:
    """Return a context's JSON (`Context.as_dict()` encoded), put together without a dict for
    the usual context: a ULID of our own, no parent and no user.

    The last one is remembered: a state_changed event and its new state share their context,
    so an event encodes it once.
    """
    global _last_context  # noqa: PLW0603 - a one-entry cache
    last = _last_context
    if last[0] is context:
        return last[1]
    encoded = None
    if context.parent_id is None and context.user_id is None:
        context_id = context.id
        if context_id.isascii() and context_id.isalnum():  # nothing to escape
            encoded = b'{"id":"%b","parent_id":null,"user_id":null}' % context_id.encode()
    if encoded is None:
        encoded = dumps(context.as_dict())
    _last_context = (context, encoded)
    return encoded


def _parts(state: State, previous: State | None) -> tuple[bytes, bytes]:
    """Return the JSON of a state's entity_id and attributes, taken over from the entity's
    previous state when it kept the same attributes object (attributes are read-only)."""
    parts = state.encoded_parts
    if parts is None:
        if (previous is not None and previous.attributes is state.attributes
                and previous.entity_id == state.entity_id):
            parts = previous.encoded_parts
        if parts is None:
            # Copies: they live as long as the entity keeps its attributes, and an orjson result
            # kept alive costs ~4 KiB of memory (its buffer's capacity), a copy what it holds.
            parts = (memoryview(dumps(state.entity_id)).tobytes(), memoryview(dumps(state.attributes)).tobytes())
        state.encoded_parts = parts
    return parts


def state_json(state: State | None, previous: State | None = None) -> bytes:
    """Return a state's JSON as Home Assistant sends it, encoded once and kept on the state.

    The same bytes as `dumps(state.as_dict())`, put together from its parts: the dict with its
    three formatted instants and the context's dict cost more than the encoding (2.6 of 3.2 µs
    a state), and the state machine writes one state per reading. The entity_id's and the
    attributes' JSON come from `previous` (the entity's state before) when it shares them.
    """
    if state is None:
        return b"null"
    encoded = state.encoded
    if encoded is None:
        updated_at = state.last_updated_timestamp
        updated = iso_utc(updated_at).encode()
        changed_at, reported_at = state.last_changed_timestamp, state.last_reported_timestamp
        changed = updated if changed_at == updated_at else iso_utc(changed_at).encode()
        reported = updated if reported_at == updated_at else iso_utc(reported_at).encode()
        entity_id, attributes = _parts(state, previous)
        encoded = state.encoded = (
            b'{"entity_id":%b,"state":%b,"attributes":%b,"last_changed":"%b","last_reported":"%b",'
            b'"last_updated":"%b","context":%b}'
            % (entity_id, dumps(state.state), attributes, changed, reported, updated, context_json(state.context))
        )
    return encoded


def _state_changed_json(event: Event) -> bytes | None:
    """Return a state_changed event's JSON from its states' own (None if it is not the state
    machine's shape, e.g. one fired through the API)."""
    data = event.data
    if len(data) != 3:
        return None
    entity_id, old, new = data.get("entity_id"), data.get("old_state"), data.get("new_state")
    if type(entity_id) is not str or not (old is None or type(old) is State) or not (new is None or type(new) is State):
        return None
    old_json = state_json(old)
    new_json = state_json(new, old)
    state = new if new is not None else old
    if state is not None and state.entity_id == entity_id and state.encoded_parts is not None:
        entity_id_json = state.encoded_parts[0]
    else:
        entity_id_json = dumps(entity_id)
    origin = event.origin
    return b'{"event_type":"state_changed","data":{"entity_id":%b,"old_state":%b,"new_state":%b},' \
        b'"origin":"%b","time_fired":"%b","context":%b}' % (
            entity_id_json, old_json, new_json,
            b"LOCAL" if origin is EventOrigin.local else origin.value.encode(),  # an enum's .value is slow
            iso_utc(event.time_fired_timestamp).encode(), context_json(event.context))


def encode_event(event: Event) -> bytes:
    """Return the JSON of an event as Home Assistant sends it (d.1).

    A state_changed event is put together from the JSON of its two states, each encoded once
    in its life (a state is the new_state of one event and the old_state of the next), so an
    event costs one state's encoding instead of two.
    """
    if event.event_type == EVENT_STATE_CHANGED:
        encoded = _state_changed_json(event)
        if encoded is not None:
            return encoded
    return dumps(event.as_dict())


def compressed_state(state: State) -> dict[str, Any]:
    """Return the compressed form of a state used by subscribe_entities (b.4)."""
    context = state.context
    compressed: dict[str, Any] = {
        "s": state.state,
        "a": state.attributes,
        "c": context.id if context.parent_id is None and context.user_id is None else context.as_dict(),
        "lc": state.last_changed_timestamp,
    }
    if state.last_updated_timestamp != state.last_changed_timestamp:
        compressed["lu"] = state.last_updated_timestamp
    return compressed


def compressed_diff(old: State, new: State) -> dict[str, Any]:
    """Return the `{"+": ..., "-": ...}` diff between two states of one entity (b.4)."""
    additions: dict[str, Any] = {}
    if old.state != new.state:
        additions["s"] = new.state
    if old.last_changed_timestamp != new.last_changed_timestamp:
        additions["lc"] = new.last_changed_timestamp
    elif old.last_updated_timestamp != new.last_updated_timestamp:
        additions["lu"] = new.last_updated_timestamp
    old_context, new_context = old.context, new.context
    # Identity first: a context's id is made lazily and most writes share none.
    if old_context is not new_context and old_context.id != new_context.id:
        if old_context.parent_id == new_context.parent_id and old_context.user_id == new_context.user_id:
            additions["c"] = new_context.id
        else:
            changed: dict[str, str | None] = {"id": new_context.id}
            if old_context.parent_id != new_context.parent_id:
                changed["parent_id"] = new_context.parent_id
            if old_context.user_id != new_context.user_id:
                changed["user_id"] = new_context.user_id
            additions["c"] = changed
    old_attributes, new_attributes = old.attributes, new.attributes
    if old_attributes is not new_attributes:
        changed_attributes = {
            key: value
            for key, value in new_attributes.items()
            if key not in old_attributes or old_attributes[key] != value
        }
        if changed_attributes:
            additions["a"] = changed_attributes
    diff: dict[str, Any] = {"+": additions}
    removed = [key for key in old_attributes if key not in new_attributes]
    if removed:
        diff["-"] = {"a": removed}
    return diff
