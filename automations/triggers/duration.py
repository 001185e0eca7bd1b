"""`for:` on triggers: fire only when the matched condition holds for a while."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from automations.conditions import render_value
from automations.config import InvalidConfig
from automations.timeutil import is_templated, to_timedelta
from hub.exceptions import TemplateError

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)


def validate_for(config: Mapping[str, Any]) -> None:
    """A static `for` must be a duration; a template is checked when it renders."""
    value = config.get("for")
    if value is None or is_templated(value):
        return
    to_timedelta(value, node=config, key="for")


class Pending:
    """Timers waiting for `for:` to elapse, one per key (usually the entity_id)."""

    def __init__(self, hub: Hub, config: Mapping[str, Any], name: str) -> None:
        self._hub = hub
        self._clock = hub.clock
        self._value = config.get("for")
        self._config = config
        self._name = name
        self._timers: dict[str, Callable[[], None]] = {}

    @property
    def configured(self) -> bool:
        """Whether the trigger has a `for:`."""
        return self._value is not None

    def duration(self, variables: dict[str, Any]) -> timedelta | None:
        """Render `for:` with the trigger's variables; None (and logged) when it is invalid."""
        try:
            return to_timedelta(self._value, lambda v: render_value(self._hub, v, {"trigger": variables}), self._config, "for")
        except (InvalidConfig, TemplateError) as err:
            _LOGGER.error("%s: invalid 'for': %s", self._name, err)
            return None

    def start(self, key: str, seconds: float, fire: Callable[[], None]) -> None:
        """Fire after seconds unless cancelled (a new start for the key replaces the old)."""
        self.cancel(key)

        def done() -> None:
            self._timers.pop(key, None)
            fire()

        self._timers[key] = self._clock.call_later(seconds, done)

    def fire_now_or_after(self, key: str, payload: dict[str, Any], action: Callable[..., Any], context: Any) -> None:
        """Fire at once without `for:`; with it, once `for:` has elapsed (payload["for"] set).

        A new call for the same key restarts the wait; cancel(key) stops it.
        """
        if not self.configured:
            action(payload, context)
            return
        duration = self.duration(payload)
        if duration is None:
            return
        payload["for"] = duration
        self.start(key, duration.total_seconds(), lambda: action(payload, context))

    def is_pending(self, key: str) -> bool:
        """Whether a timer runs for key."""
        return key in self._timers

    def cancel(self, key: str) -> None:
        """Stop the timer of key."""
        cancel = self._timers.pop(key, None)
        if cancel is not None:
            cancel()

    def cancel_all(self) -> None:
        """Stop every timer."""
        for cancel in self._timers.values():
            cancel()
        self._timers.clear()
