"""Time-based triggers: time (at), time_pattern and cron, on the hub's clock.

Next occurrences are computed in the hub's time zone from wall-clock dates, so they follow
DST changes: 07:00 stays 07:00 local on both sides of a transition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from croniter import croniter

from automations.config import InvalidConfig, ensure_list
from automations.timeutil import to_time, to_timedelta
from hub.core.bus import Event, callback
from hub.core.clock import Clock
from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN, valid_entity_id

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)


class Repeating:
    """Call fire at each next occurrence computed by next_after(now) until stopped."""

    def __init__(self, clock: Clock, next_after: Callable[[datetime], datetime | None], fire: Callable[[datetime], None]) -> None:
        self._clock = clock
        self._next_after = next_after
        self._fire = fire
        self._cancel: Callable[[], None] | None = None

    def schedule(self) -> None:
        """Arm the timer for the next occurrence after now."""
        self.stop()
        when = self._next_after(self._clock.now())
        if when is None:
            return

        def run() -> None:
            self._cancel = None
            self._fire(when)
            self.schedule()

        self._cancel = self._clock.call_at(when.timestamp(), run)

    def stop(self) -> None:
        """Disarm."""
        if self._cancel is not None:
            self._cancel()
            self._cancel = None


def next_daily(now: datetime, at: time, tz: Any) -> datetime:
    """The next local wall-clock time `at` strictly after now."""
    local = now.astimezone(tz)
    for days in range(3):
        day = local.date() + timedelta(days=days)
        candidate = datetime.combine(day, at, tz)
        if candidate > local:
            return candidate
    return datetime.combine(local.date() + timedelta(days=1), at, tz)  # pragma: no cover


def validate_time(config: Mapping[str, Any]) -> None:
    """Each `at` is HH:MM[:SS], an entity_id, or {entity_id, offset}."""
    ats = ensure_list(config.get("at"))
    if not ats:
        raise InvalidConfig("required key not provided: 'at'", config, "at")
    for at in ats:
        if isinstance(at, Mapping):
            if not isinstance(at.get("entity_id"), str):
                raise InvalidConfig("expected {entity_id, offset} for 'at'", config, "at")
            if at.get("offset") is not None:
                to_timedelta(at["offset"], node=config, key="at.offset")
        elif isinstance(at, str) and (valid_entity_id(at) or "{" in at):
            continue
        else:
            to_time(at, config, "at")


def _entity_moment(hub: Hub, entity_id: str, offset: timedelta, clock: Clock) -> Callable[[datetime], datetime | None]:
    """Next occurrence from an input_datetime (daily time or a date) or a timestamp sensor."""

    def next_after(now: datetime) -> datetime | None:
        state = hub.states.get(entity_id)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return None
        attrs = state.attributes
        if entity_id.startswith("input_datetime.") and attrs.get("has_time") and not attrs.get("has_date"):
            at = to_time(state.state)
            base = next_daily(now - offset, at, clock.time_zone)
            return base + offset
        try:
            moment = datetime.fromisoformat(state.state)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=clock.time_zone)
        moment += offset
        return moment if moment > now else None

    return next_after


def attach_time(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Fire at each `at` (fixed times daily; entity times follow the entity's state)."""
    clock = hub.clock
    stops: list[Callable[[], None]] = []
    for at in ensure_list(config.get("at")):
        at = info["render"](at) if isinstance(at, str) and "{" in at else at
        offset = timedelta(0)
        entity_id = None
        if isinstance(at, Mapping):
            entity_id = at["entity_id"]
            offset = to_timedelta(at.get("offset", 0))
        elif isinstance(at, str) and valid_entity_id(at):
            entity_id = at

        def fire(when: datetime, _entity: str | None = entity_id) -> None:
            payload = {"now": clock.now(), "description": f"time at {when.isoformat()}", "entity_id": _entity}
            action(payload, None)

        if entity_id is None:
            at_time = to_time(at)

            def next_at(now: datetime, _at: time = at_time) -> datetime:
                return next_daily(now, _at, clock.time_zone)

            repeating = Repeating(clock, next_at, fire)
            repeating.schedule()
            stops.append(repeating.stop)
            continue
        repeating = Repeating(clock, _entity_moment(hub, entity_id, offset, clock), fire)
        repeating.schedule()

        @callback
        def changed(event: Event, _r: Repeating = repeating) -> None:
            _r.schedule()

        stops.append(repeating.stop)
        stops.append(hub.states.track(entity_id, changed))

    def detach() -> None:
        for stop in stops:
            stop()

    return detach


def _pattern_values(value: Any, maximum: int, config: Mapping[str, Any], key: str) -> list[int] | None:
    if value is None:
        return None
    text = str(value).strip()
    if text == "*":
        return list(range(maximum + 1))
    try:
        if text.startswith("/"):
            step = int(text[1:])
            if step <= 0:
                raise ValueError
            return list(range(0, maximum + 1, step))
        number = int(text)
    except ValueError:
        raise InvalidConfig(f"invalid {key} pattern {value!r}: expected a number, '*' or '/N'", config, key) from None
    if not 0 <= number <= maximum:
        raise InvalidConfig(f"{key} must be between 0 and {maximum}, got {number}", config, key)
    return [number]


def _pattern(config: Mapping[str, Any]) -> tuple[list[int], list[int], list[int]]:
    hours = _pattern_values(config.get("hours"), 23, config, "hours")
    minutes = _pattern_values(config.get("minutes"), 59, config, "minutes")
    seconds = _pattern_values(config.get("seconds"), 59, config, "seconds")
    if hours is None and minutes is None and seconds is None:
        raise InvalidConfig("must contain at least one of hours, minutes, seconds", config)
    # Larger units left out match every value; smaller ones left out mean zero.
    if minutes is None and hours is not None:
        minutes = [0]
    if seconds is None and minutes is not None:
        seconds = [0]
    return hours or list(range(24)), minutes or list(range(60)), seconds or [0]


def validate_time_pattern(config: Mapping[str, Any]) -> None:
    """hours/minutes/seconds are numbers, '*' or '/N'."""
    _pattern(config)


def next_pattern(now: datetime, hours: list[int], minutes: list[int], seconds: list[int]) -> datetime:
    """The first local time after now whose hour, minute and second are in the lists."""
    start = now.replace(microsecond=0) + timedelta(seconds=1)
    for day_offset in range(2):
        day = (start + timedelta(days=day_offset)).date()
        for hour in hours:
            for minute in minutes:
                for second in seconds:
                    candidate = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=now.tzinfo)
                    if candidate >= start:
                        return candidate
    return start + timedelta(days=1)  # pragma: no cover


def attach_time_pattern(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Fire at every matching second."""
    clock = hub.clock
    hours, minutes, seconds = _pattern(config)

    def fire(when: datetime) -> None:
        action({"now": clock.now(), "description": "time pattern"}, None)

    repeating = Repeating(clock, lambda now: next_pattern(now, hours, minutes, seconds), fire)
    repeating.schedule()
    return repeating.stop


def validate_cron(config: Mapping[str, Any]) -> None:
    """`cron` is a valid five- (or six-) field cron expression."""
    expression = config.get("cron")
    if not isinstance(expression, str) or not croniter.is_valid(expression):
        raise InvalidConfig(f"invalid cron expression {expression!r}", config, "cron")


def next_cron(expression: str, now: datetime) -> datetime:
    """The next local time matching a cron expression after now."""
    return croniter(expression, now).get_next(datetime)


def attach_cron(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Fire at each time the cron expression names, in the hub's time zone."""
    clock = hub.clock
    expression = config["cron"]

    def fire(when: datetime) -> None:
        action({"now": clock.now(), "cron": expression, "description": f"cron '{expression}'"}, None)

    repeating = Repeating(clock, lambda now: next_cron(expression, now), fire)
    repeating.schedule()
    return repeating.stop
