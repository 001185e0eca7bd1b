"""Integral (Riemann sum) sensors: `sensor: - platform: integration` (see sensor.py).

The integration has no section of its own: `integration:` at the top level is refused.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol


def _no_section(value: Any) -> Any:
    message = "configure integral sensors under 'sensor:' as '- platform: integration'"
    raise vol.Invalid(message)


CONFIG_SCHEMA = _no_section
