"""States and the state machine, with Home Assistant's semantics and a per-entity listener index."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from hub.core.bus import (
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    Event,
    EventBus,
    Handler,
    Listener,
    iso_utc,
)
from hub.core.context import Context
from hub.exceptions import InvalidEntityFormatError, InvalidStateError

STATE_UNAVAILABLE = "unavailable"
STATE_UNKNOWN = "unknown"
STATE_ON = "on"
STATE_OFF = "off"
MAX_STATE_LENGTH = 255
MAX_ENTITY_ID_LENGTH = 255

# Home Assistant's entity_id pattern: lowercase, no leading/trailing/double underscores.
VALID_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")


def valid_entity_id(entity_id: str) -> bool:
    """Return whether entity_id has the form `domain.object_id`."""
    return (
        isinstance(entity_id, str)
        and len(entity_id) <= MAX_ENTITY_ID_LENGTH
        and VALID_ENTITY_ID.match(entity_id) is not None
    )


def split_entity_id(entity_id: str) -> tuple[str, str]:
    """Split an entity_id into domain and object_id, or raise InvalidEntityFormatError."""
    if not valid_entity_id(entity_id):
        message = f"Invalid entity_id {entity_id!r}"
        raise InvalidEntityFormatError(message)
    domain, _, object_id = entity_id.partition(".")
    return domain, object_id


class ReadOnlyDict(dict[str, Any]):
    """A dict that refuses changes: state attributes are shared by every reader."""

    def _readonly(self, *args: Any, **kwargs: Any) -> Any:
        message = "State attributes are read-only; build a new dict and set the state."
        raise TypeError(message)

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly


EMPTY_ATTRIBUTES = ReadOnlyDict()


class State:
    """The state of one entity at one moment: immutable but for last_reported."""

    __slots__ = (
        "entity_id",
        "state",
        "attributes",
        "last_changed_timestamp",
        "last_updated_timestamp",
        "last_reported_timestamp",
        "context",
        "_as_dict",
        "encoded",
        "encoded_parts",
    )

    def __init__(
        self,
        entity_id: str,
        state: str,
        attributes: Mapping[str, Any] | None = None,
        last_changed: float | None = None,
        last_updated: float | None = None,
        context: Context | None = None,
        last_reported: float | None = None,
    ) -> None:
        if len(state) > MAX_STATE_LENGTH:
            message = (
                f"Invalid state with length {len(state)}. "
                f"State max length is {MAX_STATE_LENGTH} characters."
            )
            raise InvalidStateError(message)
        now = time.time()
        self.entity_id = entity_id
        self.state = state
        if attributes is None:
            attributes = EMPTY_ATTRIBUTES
        elif type(attributes) is not ReadOnlyDict:
            attributes = ReadOnlyDict(attributes)
        self.attributes: ReadOnlyDict = attributes
        self.last_updated_timestamp = last_updated if last_updated is not None else now
        self.last_changed_timestamp = (
            last_changed if last_changed is not None else self.last_updated_timestamp
        )
        self.last_reported_timestamp = (
            last_reported if last_reported is not None else self.last_updated_timestamp
        )
        self.context = context if context is not None else Context()
        self._as_dict: dict[str, Any] | None = None
        # The JSON of as_dict(), made by the first encoder that needs it (the WebSocket API's
        # hub.api.ws_messages.state_json) and shared: a state goes out twice, as an event's
        # new_state and then as the next one's old_state. Cleared with _as_dict.
        self.encoded: bytes | None = None
        # The JSON of entity_id and of attributes, which the next state of the entity shares
        # when it keeps the same (read-only) attributes object: a new reading re-encodes its
        # value and times, not its attributes. Never cleared: both are fixed for a State.
        self.encoded_parts: tuple[bytes, bytes] | None = None

    @property
    def domain(self) -> str:
        """Return the entity's domain."""
        return self.entity_id.partition(".")[0]

    @property
    def object_id(self) -> str:
        """Return the entity's object_id."""
        return self.entity_id.partition(".")[2]

    @property
    def name(self) -> str:
        """Return the friendly name, or the object_id made readable."""
        name = self.attributes.get("friendly_name")
        return str(name) if name else self.object_id.replace("_", " ")

    @property
    def last_changed(self) -> datetime:
        """Return when the state value last changed."""
        return datetime.fromtimestamp(self.last_changed_timestamp, UTC)

    @property
    def last_updated(self) -> datetime:
        """Return when the state value or an attribute last changed."""
        return datetime.fromtimestamp(self.last_updated_timestamp, UTC)

    @property
    def last_reported(self) -> datetime:
        """Return when the entity last wrote its state, changed or not."""
        return datetime.fromtimestamp(self.last_reported_timestamp, UTC)

    def as_dict(self) -> dict[str, Any]:
        """Return the state as Home Assistant serialises it (built once, then shared)."""
        if self._as_dict is None:
            self._as_dict = {
                "entity_id": self.entity_id,
                "state": self.state,
                "attributes": self.attributes,
                "last_changed": iso_utc(self.last_changed_timestamp),
                "last_reported": iso_utc(self.last_reported_timestamp),
                "last_updated": iso_utc(self.last_updated_timestamp),
                "context": self.context.as_dict(),
            }
        return self._as_dict

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, State)
            and self.entity_id == other.entity_id
            and self.state == other.state
            and self.attributes == other.attributes
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<state {self.entity_id}={self.state} @ {self.last_changed.isoformat()}>"


class StateMachine:
    """Hold the current state of every entity and announce each change."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._states: dict[str, State] = {}
        self._domains: dict[str, set[str]] = {}
        self._trackers: dict[str, list[Listener]] = {}

    def get(self, entity_id: str) -> State | None:
        """Return the state of entity_id, or None."""
        state = self._states.get(entity_id)
        return state if state is not None else self._states.get(entity_id.lower())

    def __contains__(self, entity_id: str) -> bool:
        return self.get(entity_id) is not None

    def __len__(self) -> int:
        return len(self._states)

    def is_state(self, entity_id: str, state: str) -> bool:
        """Return whether entity_id exists and has the given state."""
        current = self.get(entity_id)
        return current is not None and current.state == state

    def all(self, domain_filter: str | Iterable[str] | None = None) -> list[State]:
        """Return every state, or those of one or several domains."""
        if domain_filter is None:
            return list(self._states.values())
        domains = (domain_filter,) if isinstance(domain_filter, str) else domain_filter
        states = self._states
        return [states[eid] for domain in domains for eid in self._domains.get(domain, ())]

    def entity_ids(self, domain_filter: str | Iterable[str] | None = None) -> list[str]:
        """Return the entity_ids, optionally of one or several domains."""
        if domain_filter is None:
            return list(self._states)
        domains = (domain_filter,) if isinstance(domain_filter, str) else domain_filter
        return [eid for domain in domains for eid in self._domains.get(domain, ())]

    def domains(self) -> list[str]:
        """Return the domains that have at least one state."""
        return list(self._domains)

    def set(
        self,
        entity_id: str,
        new_state: str,
        attributes: Mapping[str, Any] | None = None,
        force_update: bool = False,
        context: Context | None = None,
        timestamp: float | None = None,
    ) -> State:
        """Set an entity's state; fire state_changed when the state or attributes changed.

        A write that changes nothing only moves last_reported and fires state_reported.

        Raises:
            InvalidEntityFormatError: entity_id is not `domain.object_id`.
            InvalidStateError: the state is longer than 255 characters.
        """
        states = self._states
        old = states.get(entity_id)
        if old is None:
            lowered = entity_id.lower()
            if lowered != entity_id:  # (else the state keeps the caller's string, not a copy of it)
                entity_id = lowered
                old = states.get(entity_id)
            if old is None and not valid_entity_id(entity_id):
                message = f"Invalid entity ID {entity_id}: expected 'domain.object_id' in lowercase"
                raise InvalidEntityFormatError(message)
        if type(new_state) is not str:
            new_state = str(new_state)
        if attributes is None:
            attributes = EMPTY_ATTRIBUTES
        now = timestamp if timestamp is not None else self._bus.now()
        if old is not None and old.state == new_state and not force_update:
            if old.attributes == attributes:
                old_reported = old.last_reported_timestamp
                old.last_reported_timestamp = now
                old._as_dict = None
                old.encoded = None
                if self._bus.has_listeners(EVENT_STATE_REPORTED):
                    self._bus.fire(
                        EVENT_STATE_REPORTED,
                        {
                            "entity_id": entity_id,
                            "old_last_reported": datetime.fromtimestamp(old_reported, UTC),
                            "new_state": old,
                        },
                        context=context,
                        time_fired=now,
                    )
                return old
            last_changed = old.last_changed_timestamp
        else:
            last_changed = now
        state = State(entity_id, new_state, attributes, last_changed, now, context)
        states[entity_id] = state
        if old is None:
            self._domains.setdefault(entity_id.partition(".")[0], set()).add(entity_id)
        self._announce(entity_id, old, state, state.context, now)
        return state

    def restore(self, state: State) -> None:
        """Put a state saved before a restart back, with its own timestamps and no event."""
        if not valid_entity_id(state.entity_id):
            message = f"Invalid entity ID {state.entity_id}"
            raise InvalidEntityFormatError(message)
        self._states[state.entity_id] = state
        self._domains.setdefault(state.domain, set()).add(state.entity_id)

    def remove(self, entity_id: str, context: Context | None = None) -> bool:
        """Remove an entity's state; fire state_changed with new_state None. Return if it existed."""
        entity_id = entity_id.lower()
        old = self._states.pop(entity_id, None)
        if old is None:
            return False
        domain = entity_id.partition(".")[0]
        ids = self._domains[domain]
        ids.discard(entity_id)
        if not ids:
            del self._domains[domain]
        self._announce(entity_id, old, None, context or Context(), self._bus.now())
        return True

    def _announce(
        self,
        entity_id: str,
        old: State | None,
        new: State | None,
        context: Context,
        now: float,
    ) -> None:
        self._bus.counts[EVENT_STATE_CHANGED] = self._bus.counts.get(EVENT_STATE_CHANGED, 0) + 1
        trackers = self._trackers.get(entity_id)
        if trackers is None and not self._bus.has_listeners(EVENT_STATE_CHANGED):
            return
        event = Event(
            EVENT_STATE_CHANGED,
            {"entity_id": entity_id, "old_state": old, "new_state": new},
            context=context,
            time_fired_timestamp=now,
        )
        self._bus.fire_event(event)
        if trackers is not None:
            self._bus.deliver(event, trackers)

    def track(self, entity_ids: str | Iterable[str], handler: Handler) -> Callable[[], None]:
        """Call handler with the state_changed event of each listed entity; return the undo.

        The cost of a state write grows with the trackers of that entity only, never with the
        number of entities tracked elsewhere.
        """
        ids = [entity_ids.lower()] if isinstance(entity_ids, str) else [e.lower() for e in entity_ids]
        listeners = []
        for entity_id in ids:
            listener = Listener(entity_id, handler, None, once=False)
            self._trackers.setdefault(entity_id, []).append(listener)
            listeners.append(listener)

        def untrack() -> None:
            for listener in listeners:
                if listener.removed:
                    continue
                listener.removed = True
                bucket = self._trackers.get(listener.event_type)
                if bucket is not None:
                    bucket.remove(listener)
                    if not bucket:
                        del self._trackers[listener.event_type]

        return untrack
