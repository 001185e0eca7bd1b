"""What the calculated sensor platforms share: numbers from states, HA's number format, restore.

Used by the integration, derivative, statistics, min_max, filter, threshold and template
platforms; an integration of another author may use it too.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.timeutil import to_timedelta
from hub.core.bus import callback
from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN
from hub.exceptions import HubError

if TYPE_CHECKING:
    from hub.core.bus import Event
    from hub.core.hub import Hub
    from hub.core.states import State

# Home Assistant writes a float state with this many significant digits (machine epsilon).
FLOAT_PRECISION = abs(int(math.floor(math.log10(abs(sys.float_info.epsilon))))) - 1
NOT_A_VALUE = (STATE_UNAVAILABLE, STATE_UNKNOWN)

# Units a device class accepts, for the device class a platform derives from its source.
ENERGY_UNITS = frozenset({"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"})


def format_state(value: Any) -> Any:
    """Return a value the way Home Assistant writes it: floats to 15 significant digits."""
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:.{FLOAT_PRECISION}}"
    return value


def to_float(state: State | None) -> float | None:
    """The state as a finite float, or None (missing, unknown, unavailable, not a number)."""
    if state is None or state.state in NOT_A_VALUE:
        return None
    try:
        number = float(state.state)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def to_decimal(text: str) -> Decimal | None:
    """A state string as a Decimal, or None when it is not a number."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return value if value.is_finite() else None


def restored(hub: Hub, entity_id: str | None) -> State | None:
    """The state the hub put back for entity_id before setup (None for a new entity)."""
    if entity_id is None:
        return None
    state = hub.states.get(entity_id)
    if state is None or state.attributes.get("restored") or state.state in NOT_A_VALUE:
        return None
    return state


def period(value: Any) -> timedelta:
    """A voluptuous validator for a duration ("00:05:00", 300, {minutes: 5}) as HA's time_period."""
    try:
        return to_timedelta(value)
    except HubError as err:
        raise vol.Invalid(str(err)) from err


def platform_only(domain: str, platform: str) -> Callable[[Any], Any]:
    """A CONFIG_SCHEMA refusing a top-level section of an integration that is only a platform."""

    def refuse(value: Any) -> Any:
        message = f"configure it under '{domain}:' as '- platform: {platform}'"
        raise vol.Invalid(message)

    return refuse


class Follower:
    """Follows the states of source entities while the entity is in the hub (mixed into an Entity)."""

    hub: Hub | None

    def follow(self, entity_ids: str | list[str], handler: Callable[[Event], None]) -> None:
        """Call handler with each state_changed event of the sources until the entity is removed."""
        if self.hub is None:
            raise HubError(f"{self!r} follows sources before it was added to a hub")
        undo = self.__dict__.setdefault("_follower_undo", [])
        undo.append(self.hub.states.track(entity_ids, handler))

    def recompute_from(self, entity_ids: list[str], recompute: Callable[[], None]) -> None:
        """Recompute now, and on each change of the sources write the state again with its context."""
        recompute()
        entity: Any = self  # mixed into an Entity: it has a context and writes its state

        @callback
        def changed(event: Event) -> None:
            entity.context = event.context
            recompute()
            entity.write_state()

        if entity_ids:
            self.follow(entity_ids, changed)

    async def will_remove_from_hub(self) -> None:
        """Stop following the sources."""
        for undo in self.__dict__.pop("_follower_undo", []):
            undo()
