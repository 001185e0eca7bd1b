"""The web UI's own WebSocket commands: devices with their entities, and saved history charts.

Enabled by `frontend:` in configuration.yaml (as in Home Assistant). The UI itself is static
files in frontend/dist served by the hub's web app; this integration only adds what those pages
need beyond the core API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from integrations.frontend import automation_check, charts, devices

if TYPE_CHECKING:
    from hub.core.hub import Hub

DOMAIN = "frontend"
CONFIG_SCHEMA = vol.Any(None, {})


@hookimpl
def setup_integration(hub: Hub, config: Any) -> None:
    """Nothing to start: the commands read the hub's registries and database on demand."""


@hookimpl
def register_websocket_commands(hub: Hub, register: Any) -> None:
    """Add frontend/devices, frontend/device/*, frontend/charts/* and frontend/automation/validate."""
    devices.register_commands(register)
    charts.register_commands(register)
    automation_check.register_commands(register)
