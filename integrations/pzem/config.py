"""The `pzem:` section: one serial bus with meters by Modbus address."""

from __future__ import annotations

from typing import Any

import voluptuous as vol


def _unique_addresses(meters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[int] = set()
    for index, meter in enumerate(meters):
        if meter["address"] in seen:
            raise vol.Invalid(f"meters[{index}].address {meter['address']} is used twice on one bus")
        seen.add(meter["address"])
    return meters


METER_SCHEMA = vol.Schema(
    {
        # 0xF8 is "whoever is there": only for a single meter on the bus.
        vol.Required("address"): vol.All(vol.Coerce(int), vol.Any(vol.Range(min=1, max=247), 0xF8)),
        vol.Optional("name"): vol.All(str, vol.Length(min=1, max=100)),
    }
)

CONFIG_SCHEMA = vol.Schema(
    {
        vol.Required("port"): vol.All(str, vol.Length(min=1)),
        vol.Optional("baudrate", default=9600): vol.All(vol.Coerce(int), vol.Range(min=1200, max=115200)),
        vol.Optional("scan_interval", default=10.0): vol.All(vol.Coerce(float), vol.Range(min=0.05)),
        vol.Optional("timeout", default=0.2): vol.All(vol.Coerce(float), vol.Range(min=0.01, max=5)),
        vol.Optional("retries", default=2): vol.All(vol.Coerce(int), vol.Range(min=0, max=10)),
        vol.Optional("unavailable_after", default=3): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional("meters", default=[{"address": 0xF8}]): vol.All(
            [METER_SCHEMA], vol.Length(min=1), _unique_addresses
        ),
    }
)
