"""The `energy:` section: tariffs, meters, utility meters and budgets.

    energy:
      tariffs:
        grid:
          - price: 0.30                 # EUR/kWh (the currency is homeassistant: currency)
            valid_to: 2024-06-30
          - valid_from: 2024-07-01      # a price change: use before it keeps the old price
            price: 0.22                 # the hours no rule covers
            schedule:
              - days: [mon, tue, wed, thu, fri]
                from: "07:00"
                to: "22:00"
                price: 0.35
      meters:                           # default: every sensor with device_class energy
        - entity_id: sensor.kitchen_energy
          tariff: grid                  # default: the first tariff
      utility_meters:
        kitchen_daily: {source: sensor.kitchen_energy, cycle: daily}
      budgets:
        - {name: house_day, period: day, kwh: 10}
        - {name: house_month, period: month, cost: 90}
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

import voluptuous as vol

from hub.core.states import valid_entity_id
from integrations.energy.cycles import CYCLES

FLOWS = ("consumption", "return")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"^[a-z0-9_]+$")


def _name(value: Any) -> str:
    text = str(value).strip().lower()
    if not _NAME.match(text):
        raise vol.Invalid(f"expected a name of lowercase letters, digits and underscores, got {value!r}")
    return text


def _entity_id(value: Any) -> str:
    text = str(value).strip().lower()
    if not valid_entity_id(text):
        raise vol.Invalid(f"expected an entity_id like sensor.kitchen_energy, got {value!r}")
    return text


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as err:
        raise vol.Invalid(f"expected a date like 2024-07-01, got {value!r}") from err


def _time(value: Any) -> time:
    text = str(value).strip()
    if text in ("24:00", "24:00:00"):
        return time(0)
    if isinstance(value, int):  # YAML 1.1 reads 07:00 unquoted as sexagesimal minutes
        return time(value // 60 % 24, value % 60)
    try:
        return time.fromisoformat(text)
    except ValueError as err:
        raise vol.Invalid(f"expected a time like 07:00, got {value!r}") from err


def _days(value: Any) -> list[int]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 6:
            out.append(item)  # already validated (0 = Monday)
            continue
        text = str(item).strip().lower()[:3]
        if text not in WEEKDAYS:
            raise vol.Invalid(f"expected weekdays like mon, tue, ... sun, got {item!r}")
        out.append(WEEKDAYS.index(text))
    return out


PRICE = vol.All(vol.Coerce(float), vol.Range(min=-100, max=100))

RULE = vol.Schema(
    {
        vol.Optional("days", default=list(WEEKDAYS)): _days,
        vol.Required("from"): _time,
        vol.Required("to"): _time,
        vol.Required("price"): PRICE,
        vol.Optional("name"): vol.All(str, vol.Length(min=1, max=40)),
    }
)

PERIOD = vol.Schema(
    {
        vol.Optional("valid_from", default=date(1970, 1, 1)): _date,
        vol.Optional("valid_to"): vol.Any(None, _date),
        vol.Optional("price"): PRICE,
        vol.Optional("schedule", default=list): [RULE],
    }
)


def _period(value: Any) -> dict[str, Any]:
    period: dict[str, Any] = PERIOD(value)
    if "price" not in period and not period["schedule"]:
        raise vol.Invalid("a tariff period needs price, schedule, or both")
    if period.get("valid_to") is not None and period["valid_to"] < period["valid_from"]:
        raise vol.Invalid("valid_to is before valid_from", path=["valid_to"])
    return period


def _periods(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [{"price": value}]
    elif isinstance(value, dict):
        value = [value]
    periods: list[dict[str, Any]] = vol.Schema(vol.All([_period], vol.Length(min=1)))(value)
    return periods


METER = vol.Schema(
    vol.Any(
        vol.All(_entity_id, lambda e: {"entity_id": e}),
        {
            vol.Required("entity_id"): _entity_id,
            vol.Optional("tariff"): _name,
            vol.Optional("name"): str,
            vol.Optional("flow"): vol.In(FLOWS),
            vol.Optional("return_tariff"): _name,
        },
    )
)

UTILITY_METER = vol.Schema(
    {
        vol.Required("source"): _entity_id,
        vol.Optional("cycle", default="daily"): vol.In(CYCLES),
        vol.Optional("name"): str,
    }
)


def _budget(value: Any) -> dict[str, Any]:
    budget: dict[str, Any] = vol.Schema(
        {
            vol.Required("name"): _name,
            vol.Required("period"): vol.In(("day", "month")),
            vol.Exclusive("kwh", "limit"): vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False)),
            vol.Exclusive("cost", "limit"): vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False)),
            vol.Optional("meters"): [_entity_id],
            vol.Optional("forecast"): _entity_id,
        }
    )(value)
    if "kwh" not in budget and "cost" not in budget:
        raise vol.Invalid("a budget needs kwh or cost (its limit)")
    return budget


def _check(config: dict[str, Any]) -> dict[str, Any]:
    tariffs = config["tariffs"]
    for index, meter in enumerate(config.get("meters") or []):
        for key in ("tariff", "return_tariff"):
            if meter.get(key) and meter[key] not in tariffs:
                raise vol.Invalid(f"unknown tariff {meter[key]!r}; known: {', '.join(tariffs) or 'none'}",
                                  path=["meters", index, key])
    names = [b["name"] for b in config["budgets"]]
    if len(names) != len(set(names)):
        raise vol.Invalid("budget names must be unique", path=["budgets"])
    return config


CONFIG_SCHEMA = vol.Schema(
    vol.Any(
        None,
        vol.All(
            {
                vol.Optional("tariffs", default=dict): {_name: _periods},
                vol.Optional("meters"): [METER],
                vol.Optional("utility_meters", default=dict): {_name: UTILITY_METER},
                vol.Optional("budgets", default=list): [_budget],
            },
            _check,
        ),
    )
)
