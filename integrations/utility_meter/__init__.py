"""`utility_meter:` in Home Assistant's format: a source's use per cycle, per tariff, with its services.

    utility_meter:
      heater_daily:
        source: sensor.heater_energy
        name: Heater today          # default: the key
        cycle: daily                # quarter-hourly, hourly, daily, weekly, monthly, bimonthly, quarterly, yearly
        offset: {hours: 6}          # the cycle starts 06:00 (cron: "0 6 * * *" is the alternative)
        tariffs: [peak, offpeak]    # select.heater_daily picks the tariff that counts
        net_consumption: false      # true: a decrease of the source counts as negative use
        delta_values: false         # true: the source reports the use since its last report
        periodically_resetting: true
        always_available: false

Entities: `sensor.<key>` (with tariffs: `sensor.<key>_<tariff>` each, and `select.<key>`), as HA
names them. Services: `utility_meter.reset` (a meter's sensor, or its select for all its
tariffs) and `utility_meter.calibrate` (a sensor, `value`). The hub's own utility meters under
`energy:` keep their separate format (integrations/energy); this one follows HA's semantics
exactly (sensor.py), so a pasted configuration behaves as it did.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from croniter import croniter

from hub import hookimpl
from hub.config.core_schema import entity_id as _entity_id
from hub.core.services import ServiceCall
from hub.exceptions import ServiceValidationError
from hub.util import slugify
from integrations.sensor.calculated import period
from integrations.utility_meter.sensor import CYCLES, TariffSelect, UtilityMeterSensor

if TYPE_CHECKING:
    from hub.core.hub import Hub

DOMAIN = "utility_meter"


def _cron(value: Any) -> str:
    if not isinstance(value, str) or not croniter.is_valid(value):
        raise vol.Invalid(f"expected a cron pattern such as '0 6 * * *', got {value!r}")
    return value


def _offset(value: Any) -> timedelta:
    offset = period(value)
    if offset < timedelta(0) or offset > timedelta(days=28):
        raise vol.Invalid("expected an offset between 0 and 28 days")
    return offset


def _tariffs(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = [str(item) for item in items]
    if len(set(names)) != len(names):
        raise vol.Invalid("tariff names must be unique")
    return names


def _cycle_or_cron(meter: dict[str, Any]) -> dict[str, Any]:
    if meter.get("cycle") and meter.get("cron"):
        raise vol.Invalid("give either 'cycle' or 'cron', not both")
    return meter


METER_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required("source"): _entity_id,
            vol.Optional("name"): vol.Coerce(str),
            vol.Optional("unique_id"): vol.Coerce(str),
            # `none`: never reset by time (HA's docs list it beside the cycles).
            vol.Optional("cycle"): vol.All(vol.In((*CYCLES, "none")), lambda cycle: None if cycle == "none" else cycle),
            vol.Optional("offset", default=timedelta(0)): _offset,
            vol.Optional("cron"): _cron,
            vol.Optional("net_consumption", default=False): bool,
            vol.Optional("delta_values", default=False): bool,
            vol.Optional("periodically_resetting", default=True): bool,
            vol.Optional("always_available", default=False): bool,
            vol.Optional("tariffs", default=[]): _tariffs,
        }
    ),
    _cycle_or_cron,
)
CONFIG_SCHEMA = vol.Schema({vol.Match(r"^[a-z0-9_]+$", msg="expected a meter key of lowercase letters, digits and underscores"): METER_SCHEMA})

RESET_SCHEMA = vol.Schema({vol.Required("entity_id"): object, vol.Optional("device_id"): object,
                           vol.Optional("area_id"): object})
CALIBRATE_SCHEMA = vol.Schema({vol.Required("entity_id"): object, vol.Required("value"): vol.Coerce(str)}, extra=vol.ALLOW_EXTRA)


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """Each meter's sensors (one per tariff) and its tariff select."""
    return [claim for key in (config or {}) for claim in (f"sensor.{slugify(str(key))}*", f"select.{key}")]


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Create the meters' sensors and tariff selects, and register reset and calibrate."""
    sensors: list[UtilityMeterSensor] = []
    for key, meter in CONFIG_SCHEMA(config or {}).items():
        name = meter.get("name") or key
        select: TariffSelect | None = None
        if meter["tariffs"]:
            select = TariffSelect(key, name, meter["tariffs"], meter.get("unique_id"))
            await hub.entities.add(select, DOMAIN)
        for tariff in meter["tariffs"] or [None]:
            sensor = UtilityMeterSensor(key, name, meter, tariff, select.entity_id if select else None)
            sensors.append(sensor)
            await hub.entities.add(sensor, DOMAIN)

    def targets(call: ServiceCall) -> list[str]:
        return list(call.entity_ids or [])

    async def reset(call: ServiceCall) -> None:
        for entity_id in targets(call):
            for sensor in sensors:
                sensor.reset_for(entity_id)

    async def calibrate(call: ServiceCall) -> None:
        value = call.data["value"]
        found = [sensor for sensor in sensors if sensor.entity_id in targets(call)]
        if not found:
            raise ServiceValidationError("utility_meter.calibrate: no utility meter sensor among the targets")
        for sensor in found:
            sensor.calibrate(value)

    hub.services.register(DOMAIN, "reset", reset, RESET_SCHEMA)
    hub.services.register(DOMAIN, "calibrate", calibrate, CALIBRATE_SCHEMA)
