"""A month of meter readings with a known bill: a TOU price change mid-month, a meter reset,
a device replaced, and return to the grid. Used by the API tests and the browser tests.

The month is the last complete calendar month (UTC), so the recorder's default retention keeps
it. Every meter reads once an hour, a second before the hour ends (the reading that closes the
hour), and its counter is a linear function of time, so each hour's use is exact:

- Kitchen node: 1 kWh every hour; its meter is reset on day 10 at 12:00 (counts again from 0).
- Heater (old node): 2 kWh every hour until day 20 00:00, when the node is replaced and removed.
- Heater (new node): its meter starts at 5,000 kWh on day 20 00:00 and uses 2 kWh every hour.
- Rooftop inverter: returns 0.5 kWh to the grid every hour from 10:00 to 16:00.

Tariff `grid`: 0.25 a kWh until day 14; from day 15 0.20, and 0.30 from 07:00 to 22:00 (peak).
Tariff `feed_in`: returned energy earns 0.08 a kWh.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

HOUR = 3600.0

CORE = """
homeassistant:
  name: Bill home
  time_zone: UTC
  currency: EUR
"""

CONFIG = """
recorder:
  commit_interval: 0.05
billdevices:
energy:
  tariffs:
    grid:
      - price: 0.25
        valid_to: {change_eve}
      - valid_from: {change_day}
        price: 0.20
        schedule:
          - {{from: "07:00", to: "22:00", price: 0.30}}
    feed_in: 0.08
  meters:
    - sensor.kitchen_energy
    - sensor.heater_old_energy
    - sensor.heater_energy
    - {{entity_id: sensor.inverter_export, flow: return, tariff: feed_in}}
"""

DEVICES = """
from hub import hookimpl
from hub.core.entity import SensorEntity


class Meter(SensorEntity):
    def __init__(self, name, unique_id, device, value):
        self.name = name
        self.unique_id = unique_id
        self.native_value = value
        self.unit_of_measurement = "kWh"
        self.device_class = "energy"
        self.state_class = "total_increasing"
        self.device_info = {"identifiers": [["bill", device]], "name": device}


@hookimpl
async def setup_integration(hub, config):
    for name, unique_id, device in (
        ("Kitchen energy", "kitchen_energy", "Kitchen node"),
        ("Heater old energy", "heater_old_energy", "Heater (old node)"),
        ("Heater energy", "heater_energy", "Heater (new node)"),
        ("Inverter export", "inverter_export", "Rooftop inverter"),
    ):
        await hub.entities.add(Meter(name, unique_id, device, None), "billdevices")
"""


@dataclass(frozen=True)
class Month:
    """The month of the scenario and its bill, computed by hand."""

    start: float
    days: int

    @property
    def end(self) -> float:
        return self.start + self.days * 86400

    def day(self, number: int) -> float:
        """Return 00:00 UTC of a day of the month (1-based)."""
        return self.start + (number - 1) * 86400

    @property
    def label(self) -> str:
        return datetime.fromtimestamp(self.start, UTC).strftime("%Y-%m-%d")

    # -- the bill

    @property
    def early_days(self) -> int:
        return 14  # days 1-14 at the flat 0.25

    @property
    def late_days(self) -> int:
        return self.days - self.early_days

    def expected(self) -> dict[str, Any]:
        """The bill: what a utility would send for this month."""
        used = 3.0 * 24 * self.days  # kitchen 1 + heater 2 kWh every hour
        early_cost = self.early_days * 72 * 0.25  # 18.00 a day
        peak_kwh = self.late_days * 15 * 3.0  # 07:00-22:00
        off_kwh = self.late_days * 9 * 3.0
        cost = early_cost + peak_kwh * 0.30 + off_kwh * 0.20  # 18.90 a day from the 15th
        returned = 0.5 * 6 * self.days
        credit = returned * 0.08
        return {
            "kwh": used, "cost": cost, "return_kwh": returned, "credit": credit,
            "net_kwh": used - returned, "net_cost": cost - credit,
            "bands": {"standard": (self.early_days * 72, early_cost), "peak": (peak_kwh, peak_kwh * 0.30),
                      "off-peak": (off_kwh, off_kwh * 0.20)},
            "devices": {"Kitchen node": 24.0 * self.days, "Heater (old node)": 48.0 * 19,
                        "Heater (new node)": 48.0 * (self.days - 19), "Rooftop inverter": 0.0},
        }


def last_month(now: float) -> Month:
    """Return the last complete calendar month before now (UTC)."""
    today = datetime.fromtimestamp(now, UTC)
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return Month(datetime(year, month, 1, tzinfo=UTC).timestamp(), calendar.monthrange(year, month)[1])


def config(month: Month, core: bool = True, extra: str = "") -> str:
    """Return the configuration of the scenario (without `homeassistant:` for a caller that has its own)."""
    change = datetime.fromtimestamp(month.day(15), UTC)
    eve = datetime.fromtimestamp(month.day(14), UTC)
    body = CONFIG.format(change_day=change.strftime("%Y-%m-%d"), change_eve=eve.strftime("%Y-%m-%d"))
    return (CORE if core else "") + body + extra


def readings(month: Month) -> dict[str, list[tuple[float, float]]]:
    """Return each meter's readings: one a second before each hour ends, plus the first one."""
    closes = [month.start - 1 + h * HOUR for h in range(month.days * 24 + 1)]  # from the eve's 23:59:59
    reset = month.day(10) + 12 * HOUR
    replaced = month.day(20)
    kitchen = [(t, (t - month.start + 1) / HOUR if t < reset else (t - reset) / HOUR) for t in closes]
    heater_old = [(t, 800.0 + 2 * (t - month.start + 1) / HOUR) for t in closes if t < replaced]
    heater_new = [(replaced, 5000.0)] + [(t, 5000.0 + 2 * (t - replaced) / HOUR) for t in closes if t > replaced]
    export = []
    total = 120.0
    previous = closes[0]
    for t in closes:
        day_start = t // 86400 * 86400
        # Export between 10:00 and 16:00 of each day, spread over the time between readings.
        for begin, end in ((day_start - 86400 + 10 * HOUR, day_start - 86400 + 16 * HOUR),
                           (day_start + 10 * HOUR, day_start + 16 * HOUR)):
            overlap = min(end, t) - max(begin, previous)
            if overlap > 0:
                total += 0.5 * overlap / HOUR
        export.append((t, total))
        previous = t
    return {"sensor.kitchen_energy": kitchen, "sensor.heater_old_energy": heater_old,
            "sensor.heater_energy": heater_new, "sensor.inverter_export": export}


async def load(hub: Any, month: Month) -> int:
    """Write the month's readings to history through the recorder's backfill service."""
    written = 0
    for entity_id, points in readings(month).items():
        response = await hub.services.call("recorder", "backfill", {"entity_id": entity_id, "points": points},
                                           return_response=True)
        written += response["points"]
    # The meters' present states: where each counter stands now (the old heater's is gone below).
    for entity_id, points in readings(month).items():
        hub.states.set(entity_id, f"{points[-1][1]:.4f}", dict(hub.states.get(entity_id).attributes))
    return written


async def replace_old_heater(hub: Any) -> None:
    """The old heater node was replaced: its entity and its device are removed from the hub."""
    entry = hub.entity_registry.get("sensor.heater_old_energy")
    await hub.entities.remove("sensor.heater_old_energy")
    await hub.entity_registry.remove("sensor.heater_old_energy")
    if entry is not None and entry.device_id is not None:
        await hub.device_registry.remove(entry.device_id)
