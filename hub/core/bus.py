"""The event bus: fire events, listen to them, and the @callback marker for inline handlers."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from hub.core.context import Context

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

MATCH_ALL = "*"
EVENT_STATE_CHANGED = "state_changed"
EVENT_STATE_REPORTED = "state_reported"
EVENT_CALL_SERVICE = "call_service"
# A device command changed status: {"device_id", "command": the command as the API shows it}.
EVENT_DEVICE_COMMAND = "device_command"
EVENT_SERVICE_REGISTERED = "service_registered"
EVENT_SERVICE_REMOVED = "service_removed"
EVENT_HUB_START = "homeassistant_start"
EVENT_HUB_STARTED = "homeassistant_started"
EVENT_HUB_STOP = "homeassistant_stop"
EVENT_HUB_FINAL_WRITE = "homeassistant_final_write"
EVENT_HUB_CLOSE = "homeassistant_close"
# Home Assistant keeps these out of "*" subscriptions: they are frequent and rarely wanted.
EXCLUDED_FROM_MATCH_ALL = frozenset({EVENT_STATE_REPORTED, EVENT_HUB_CLOSE})
# Event types counted one by one; any further type is counted under OTHER_EVENT_TYPE, so a
# client firing random types cannot grow the counts without bound.
MAX_COUNTED_EVENT_TYPES = 500
OTHER_EVENT_TYPE = "_other"

_F = TypeVar("_F", bound=Callable[..., Any])
# The attribute @callback sets: a function's type does not declare it, so it is set by name.
_CALLBACK_MARK = "_hub_callback"


def callback(func: _F) -> _F:
    """Mark a function as safe to run inline in the event loop (it must not block)."""
    try:
        setattr(func, _CALLBACK_MARK, True)
    except AttributeError:  # a builtin or bound method: wrap it so it can carry the mark
        original = func

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return original(*args, **kwargs)

        setattr(wrapper, _CALLBACK_MARK, True)
        return wrapper  # type: ignore[return-value]
    return func


def is_callback(func: Callable[..., Any]) -> bool:
    """Return whether func was marked with @callback."""
    return getattr(func, _CALLBACK_MARK, False) is True



_second: tuple[int, str] = (-(2**62), "")  # the last whole second formatted, "YYYY-MM-DDTHH:MM:SS"
_last: tuple[float, str] = (float("nan"), "")  # the last timestamp formatted


def iso_utc(timestamp: float) -> str:
    """Return a Unix timestamp as ISO 8601 in UTC, as Home Assistant serialises times.

    The same text as `datetime.fromtimestamp(timestamp, UTC).isoformat()` (microseconds
    rounded half to even, left out when zero), without building a datetime: the date and
    time of day are formatted once per second and only the microseconds each time. Encoding
    state changes for WebSocket clients formats one or two instants per change.
    """
    global _last, _second  # noqa: PLW0603 - one-entry caches
    last = _last
    if timestamp == last[0]:
        return last[1]  # a state's last_changed, last_updated, last_reported and its event's time_fired
    fraction, whole = math.modf(timestamp)
    micro = round(fraction * 1e6)
    second = int(whole)
    if micro >= 1_000_000:
        micro -= 1_000_000
        second += 1
    elif micro < 0:
        micro += 1_000_000
        second -= 1
    cached = _second
    if second != cached[0]:
        cached = _second = (second, datetime.fromtimestamp(second, UTC).isoformat()[:-6])
    text = "%s.%06d+00:00" % (cached[1], micro) if micro else cached[1] + "+00:00"  # half an f-string's cost
    _last = (timestamp, text)
    return text


class EventOrigin(StrEnum):
    """Where an event came from."""

    local = "LOCAL"
    remote = "REMOTE"


class Event:
    """Something that happened, with its data and context."""

    __slots__ = ("event_type", "data", "origin", "time_fired_timestamp", "context")

    def __init__(
        self,
        event_type: str,
        data: dict[str, Any] | None = None,
        origin: EventOrigin = EventOrigin.local,
        time_fired_timestamp: float | None = None,
        context: Context | None = None,
    ) -> None:
        self.event_type = event_type
        self.data = data if data is not None else {}
        self.origin = origin
        self.time_fired_timestamp = (
            time_fired_timestamp if time_fired_timestamp is not None else time.time()
        )
        self.context = context if context is not None else Context()

    @property
    def time_fired(self) -> datetime:
        """Return when the event was fired, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time_fired_timestamp, UTC)

    def as_dict(self) -> dict[str, Any]:
        """Return the event as Home Assistant serialises it."""
        return {
            "event_type": self.event_type,
            "data": self.data,
            "origin": self.origin.value,
            "time_fired": iso_utc(self.time_fired_timestamp),
            "context": self.context.as_dict(),
        }

    def __repr__(self) -> str:
        return f"<Event {self.event_type}[{self.origin.value[0]}]: {self.data}>"



Handler = Callable[[Event], Coroutine[Any, Any, None] | None]
EventFilter = Callable[[Event], bool]


class Listener:
    """One subscription: a handler, how to run it, and an optional filter."""

    __slots__ = ("event_type", "handler", "inline", "is_coroutine", "event_filter", "once", "removed")

    def __init__(
        self, event_type: str, handler: Handler, event_filter: EventFilter | None, once: bool
    ) -> None:
        self.event_type = event_type
        self.handler = handler
        self.inline = is_callback(handler)
        self.is_coroutine = asyncio.iscoroutinefunction(handler)
        self.event_filter = event_filter
        self.once = once
        self.removed = False


class EventBus:
    """Deliver events to the listeners of their type and to match-all listeners."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._listeners: dict[str, list[Listener]] = {}
        self._match_all: list[Listener] = []
        # What stamps events and state writes: the hub's clock (Hub.clock's setter rebinds it).
        self.now: Callable[[], float] = time.time
        # Events fired per type, listened to or not (read by the metrics endpoint).
        self.counts: dict[str, int] = {}

    def count(self, event_type: str) -> None:
        """Count one event of event_type (fire does this; the state machine calls it directly)."""
        counts = self.counts
        try:
            counts[event_type] += 1
        except KeyError:
            if len(counts) < MAX_COUNTED_EVENT_TYPES:
                counts[event_type] = 1
            else:
                counts[OTHER_EVENT_TYPE] = counts.get(OTHER_EVENT_TYPE, 0) + 1

    def has_listeners(self, event_type: str) -> bool:
        """Return whether firing event_type would reach anybody."""
        if event_type in self._listeners:
            return True
        return bool(self._match_all) and event_type not in EXCLUDED_FROM_MATCH_ALL

    def listener_counts(self) -> dict[str, int]:
        """Return the number of listeners per event type ("*" for match-all)."""
        counts = {key: len(value) for key, value in self._listeners.items()}
        if self._match_all:
            counts[MATCH_ALL] = len(self._match_all)
        return counts

    def fire(
        self,
        event_type: str,
        data: dict[str, Any] | None = None,
        origin: EventOrigin = EventOrigin.local,
        context: Context | None = None,
        time_fired: float | None = None,
    ) -> None:
        """Fire an event; listeners marked @callback run before this returns."""
        counts = self.counts
        try:
            counts[event_type] += 1
        except KeyError:
            self.count(event_type)
        listeners = self._listeners.get(event_type)
        match_all = self._match_all if event_type not in EXCLUDED_FROM_MATCH_ALL else None
        if not listeners and not match_all:
            return
        event = Event(event_type, data, origin, time_fired if time_fired is not None else self.now(), context)
        if listeners:
            self.deliver(event, listeners)
        if match_all:
            self.deliver(event, match_all)

    def fire_event(self, event: Event) -> None:
        """Deliver an Event object that was already built (the state machine reuses its own)."""
        listeners = self._listeners.get(event.event_type)
        if listeners:
            self.deliver(event, listeners)
        if self._match_all and event.event_type not in EXCLUDED_FROM_MATCH_ALL:
            self.deliver(event, self._match_all)

    def deliver(self, event: Event, listeners: list[Listener]) -> None:
        """Run listeners for an event, honouring filters and one-shot listeners."""
        # Iterate over a snapshot only when a one-shot listener may remove itself meanwhile.
        for listener in tuple(listeners) if len(listeners) > 1 else listeners:
            if listener.removed:
                continue
            if listener.event_filter is not None:
                try:
                    if not listener.event_filter(event):
                        continue
                except Exception:  # noqa: BLE001 - a broken filter must not stop delivery
                    _LOGGER.exception("Error in event filter for %s", event.event_type)
                    continue
            if listener.once:
                self.remove(listener)
            self._run(listener, event)

    def _run(self, listener: Listener, event: Event) -> None:
        """Run one listener's handler the way it asked to be run."""
        handler = listener.handler
        if listener.inline:
            try:
                handler(event)
            except Exception:  # noqa: BLE001 - one bad handler must not break the others
                _LOGGER.exception("Error running handler %r for %s", handler, event.event_type)
        elif listener.is_coroutine:
            self._hub.create_task(handler(event), f"event handler {event.event_type}")  # type: ignore[arg-type]
        else:
            # A plain function may block: run it in the executor, as Home Assistant does.
            self._hub.run_in_executor(handler, event)

    def listen(
        self,
        event_type: str,
        handler: Handler,
        event_filter: EventFilter | None = None,
    ) -> Callable[[], None]:
        """Call handler for every event of event_type ("*" for all); return the unsubscribe.

        Args:
            event_type: the event type, or "*" for every event except state_reported.
            handler: a coroutine function (run as a task), an @callback function (run inline),
                or a plain function (run in the executor).
            event_filter: an @callback predicate; the handler runs only when it returns True.

        Returns:
            A function that removes the listener.
        """
        return self._add(event_type, Listener(event_type, handler, event_filter, once=False))

    def listen_once(self, event_type: str, handler: Handler) -> Callable[[], None]:
        """Call handler for the next event of event_type only; return the unsubscribe."""
        return self._add(event_type, Listener(event_type, handler, None, once=True))

    def _add(self, event_type: str, listener: Listener) -> Callable[[], None]:
        if event_type == MATCH_ALL:
            self._match_all.append(listener)
        else:
            self._listeners.setdefault(event_type, []).append(listener)

        return lambda: self.remove(listener)

    def remove(self, listener: Listener) -> None:
        """Remove a listener (a second removal does nothing)."""
        if listener.removed:
            return
        listener.removed = True
        if listener.event_type == MATCH_ALL:
            self._match_all.remove(listener)
            return
        listeners = self._listeners[listener.event_type]
        listeners.remove(listener)
        if not listeners:
            del self._listeners[listener.event_type]
