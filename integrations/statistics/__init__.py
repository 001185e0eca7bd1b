"""Statistics sensors: `sensor: - platform: statistics` (see sensor.py); no section of its own."""

from __future__ import annotations

from integrations.sensor.calculated import platform_only

CONFIG_SCHEMA = platform_only("sensor", "statistics")
