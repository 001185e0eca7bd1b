"""Min/max/mean/median/last/range/sum of several sensors: `sensor: - platform: min_max`."""

from __future__ import annotations

from integrations.sensor.calculated import platform_only

CONFIG_SCHEMA = platform_only("sensor", "min_max")
