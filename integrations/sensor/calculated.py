"""What the calculated sensor platforms share: numbers from states, HA's number format, restore.

Used by the integration, derivative, statistics, min_max, filter, threshold and template
platforms; an integration of another author may use it too.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN

if TYPE_CHECKING:
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
