"""Integral (Riemann sum) sensors: `sensor: - platform: integration` (see sensor.py).

The integration has no section of its own: `integration:` at the top level is refused.
"""

from __future__ import annotations

from integrations.sensor.calculated import platform_only

CONFIG_SCHEMA = platform_only("sensor", "integration")
