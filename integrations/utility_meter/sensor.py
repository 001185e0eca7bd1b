"""The entities of `utility_meter:` (see __init__.py): the meter sensors and the tariff select.

A meter sensor follows Home Assistant's semantics: it is unknown until the source's first valid
reading, then counts each increase of the source (new - old; with `delta_values` the new value
itself; without `periodically_resetting`, from the last valid reading across unavailable gaps);
a decrease counts only with `net_consumption`. At each cron time of its cycle (cycle + offset
become a cron pattern as in HA) the total moves to `last_period` and starts again from 0. With
tariffs only the sensor of the selected tariff collects.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from croniter import croniter

from hub.core.bus import Event, callback
from hub.core.entity import SelectEntity, SensorEntity
from hub.core.states import STATE_UNAVAILABLE, State
from hub.exceptions import ServiceValidationError
from hub.util import slugify
from integrations.sensor.calculated import Follower, restored, to_decimal

if TYPE_CHECKING:
    from hub.core.clock import Cancel

_LOGGER = logging.getLogger(__name__)

# HA turns a cycle and its offset into a cron pattern (day: offset days + 1; for weekly, 1 = Monday).
PERIOD2CRON = {
    "quarter-hourly": "{minute}/15 * * * *",
    "hourly": "{minute} * * * *",
    "daily": "{minute} {hour} * * *",
    "weekly": "{minute} {hour} * * {day}",
    "monthly": "{minute} {hour} {day} * *",
    "bimonthly": "{minute} {hour} {day} */2 *",
    "quarterly": "{minute} {hour} {day} */3 *",
    "yearly": "{minute} {hour} {day} 1/12 *",
}
CYCLES = tuple(PERIOD2CRON)
DEVICE_CLASS = {"Wh": "energy", "kWh": "energy"}
COLLECTING, PAUSED = "collecting", "paused"


def cron_of(cycle: str, offset: timedelta) -> str:
    """The cron pattern of a cycle started `offset` after its natural start."""
    return PERIOD2CRON[cycle].format(minute=offset.seconds % 3600 // 60, hour=offset.seconds // 3600, day=offset.days + 1)


class TariffSelect(SelectEntity):
    """`select.<meter>`: which tariff the meter's sensors count in."""

    icon = "mdi:clock-outline"

    def __init__(self, key: str, name: str, tariffs: list[str], unique_id: str | None) -> None:
        self.entity_id = f"select.{key}"
        self.name = name
        self.unique_id = unique_id or f"utility_meter_{key}"  # registered: the tariff survives a restart
        self.options = list(tariffs)
        self.current_option = tariffs[0]

    async def added_to_hub(self) -> None:
        """Take back the tariff selected before a restart."""
        assert self.hub is not None
        previous = restored(self.hub, self.entity_id)
        if previous is not None and previous.state in self.options:
            self.current_option = previous.state

    async def select_option(self, option: str) -> None:
        """Count in another tariff from now on."""
        self.current_option = option
        self.write_state()


class UtilityMeterSensor(Follower, SensorEntity):
    """One meter (or one tariff of it): the source's use in the current cycle."""

    icon = "mdi:counter"

    def __init__(self, key: str, name: str, meter: dict[str, Any], tariff: str | None, tariff_entity: str | None) -> None:
        self.key = key
        self.source: str = meter["source"]
        self.tariff = tariff
        self.tariff_entity = tariff_entity
        self.name = f"{name} {tariff}" if tariff else name
        if tariff:
            self.entity_id = f"sensor.{slugify(f'{key} {tariff}')}"
        # HA restores a YAML meter by its entity_id; the hub restores registered entities, so a
        # meter without unique_id gets one from its key: its total survives a restart as in HA.
        self.unique_id = f"{meter.get('unique_id') or f'utility_meter_{key}'}_{tariff or 'single_tariff'}"
        self.cycle: str | None = meter.get("cycle")
        self.cron: str | None = cron_of(self.cycle, meter["offset"]) if self.cycle else meter.get("cron")
        self.net_consumption: bool = meter["net_consumption"]
        self.delta_values: bool = meter["delta_values"]
        self.periodically_resetting: bool = meter["periodically_resetting"]
        self.always_available: bool = meter["always_available"]
        self.state_class = "total" if self.net_consumption else "total_increasing"
        self.total: Decimal | int | None = None
        self.last_period: Decimal = Decimal(0)
        self.last_valid: Decimal | None = None
        self.last_reset_at: datetime | None = None
        self.next_reset_at: datetime | None = None  # local time, as HA shows it
        self.collecting = tariff is None
        self._timer: Cancel | None = None

    # ---- lifecycle ----

    async def added_to_hub(self) -> None:
        """Restore the meter, plan the next reset and follow the source (and the tariff)."""
        assert self.hub is not None
        self.last_reset_at = self.hub.clock.utcnow()
        previous = restored(self.hub, self.entity_id)
        if previous is not None:
            self._restore(previous)
        if self.tariff_entity is not None:
            select = self.hub.states.get(self.tariff_entity)
            self.collecting = select is not None and select.state == self.tariff
            self.follow(self.tariff_entity, self._tariff_changed)
        self.follow(self.source, self._reading)
        self._plan_reset()

    async def will_remove_from_hub(self) -> None:
        """Stop the reset timer and the following."""
        if self._timer is not None:
            self._timer()
        await super().will_remove_from_hub()

    def _restore(self, state: State) -> None:
        attrs = state.attributes
        self.total = to_decimal(state.state)
        self.unit_of_measurement = attrs.get("unit_of_measurement")
        self.last_period = to_decimal(str(attrs.get("last_period", "0"))) or Decimal(0)
        self.last_valid = to_decimal(str(attrs["last_valid_state"])) if attrs.get("last_valid_state") not in (None, "None") else None
        if isinstance(attrs.get("last_reset"), str):
            self.last_reset_at = datetime.fromisoformat(attrs["last_reset"]).astimezone(UTC)

    # ---- counting ----

    @callback
    def _tariff_changed(self, event: Event) -> None:
        new: State | None = event.data["new_state"]
        if new is None:
            return
        self.collecting = new.state == self.tariff
        # Which tariff an unseen step belongs to cannot be known: count from the next reading.
        self.last_valid = None
        self.write_state()

    @callback
    def _reading(self, event: Event) -> None:
        if not self.collecting:
            return
        new: State | None = event.data["new_state"]
        if new is None or new.state == STATE_UNAVAILABLE:
            self.available = self.always_available
            self.write_state()
            return
        self.available = True
        value = to_decimal(new.state)
        if value is None:
            _LOGGER.warning("%s received an invalid new state from %s: %s", self.entity_id, self.source, new.state)
            return
        if self.total is None:
            self.total = 0
        adjustment = self._adjustment(event.data["old_state"], value)
        if adjustment is not None and (self.net_consumption or adjustment >= 0):
            self.total += adjustment
        self.unit_of_measurement = new.attributes.get("unit_of_measurement")
        self.last_valid = value
        self.write_state()

    def _adjustment(self, old: State | None, value: Decimal) -> Decimal | None:
        if self.delta_values:
            return value
        if not self.periodically_resetting and self.last_valid is not None:
            return value - self.last_valid
        before = to_decimal(old.state) if old is not None else None
        return None if before is None else value - before

    # ---- resets ----

    def _plan_reset(self) -> None:
        if self.cron is None or self.hub is None:
            return
        clock = self.hub.clock
        following: datetime = croniter(self.cron, clock.now()).get_next(datetime)
        self.next_reset_at = following
        self._timer = clock.call_at(following.timestamp(), self._cycle_ended)

    @callback
    def _cycle_ended(self) -> None:
        self._timer = None
        self._plan_reset()  # first: the state written by reset() shows the next reset
        self.reset()

    def reset_for(self, entity_id: str) -> None:
        """utility_meter.reset of entity_id: this meter's select, or this sensor without tariffs."""
        if entity_id == (self.tariff_entity or self.entity_id):
            self.reset()

    def reset(self) -> None:
        """Move the total to last_period and start again from 0."""
        assert self.hub is not None
        self.last_reset_at = self.hub.clock.utcnow()
        self.last_period = Decimal(self.total) if self.total else Decimal(0)
        self.total = 0
        self.write_state()

    def calibrate(self, value: str) -> None:
        """utility_meter.calibrate: set the total."""
        number = to_decimal(value)
        if number is None:
            message = f"utility_meter.calibrate: value must be a number, got {value!r}"
            raise ServiceValidationError(message)
        self.total = number
        self.write_state()

    # ---- state ----

    def state_value(self) -> Any:
        """The use in the current cycle (unknown before the first reading)."""
        return self.total

    def state_attributes(self) -> dict[str, Any]:
        """HA's utility meter attributes."""
        self.device_class = DEVICE_CLASS.get(self.unit_of_measurement or "")
        attrs = super().state_attributes()
        # Current HA's set (2026.5): no source, meter_period or cron pattern any more.
        attrs["status"] = COLLECTING if self.collecting else PAUSED
        attrs["last_period"] = str(self.last_period)
        attrs["last_valid_state"] = str(self.last_valid)
        if self.tariff is not None:
            attrs["tariff"] = self.tariff
        if self.last_reset_at is not None:
            attrs["last_reset"] = self.last_reset_at.isoformat()
        if self.next_reset_at is not None:
            attrs["next_reset"] = self.next_reset_at.isoformat()
        return attrs
