"""Threshold binary sensors: `binary_sensor: - platform: threshold` (see binary_sensor.py)."""

from __future__ import annotations

from integrations.sensor.calculated import platform_only

CONFIG_SCHEMA = platform_only("binary_sensor", "threshold")
