"""The web UI's own WebSocket commands: devices with their entities, and saved history charts.

Enabled by `frontend:` in configuration.yaml (as in Home Assistant). The UI itself is static
files in frontend/dist served by the hub's web app; this integration only adds what those pages
need beyond the core API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

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
def register_http_routes(hub: Hub, app: web.Application) -> None:
    """Home Assistant's config API, which the automation and script editors save through.

    As in Home Assistant, whose frontend depends on the `config` integration that serves it, it is
    there with the web UI whether or not configuration.yaml has `automation:`.
    """
    from automations.config_store import register_config_routes  # noqa: PLC0415 - only with the web UI

    register_config_routes(app)


@hookimpl
def register_websocket_commands(hub: Hub, register: Any) -> None:
    """Add frontend/devices, frontend/device/*, frontend/charts/* and frontend/automation/validate."""
    devices.register_commands(register)
    charts.register_commands(register)
    automation_check.register_commands(register)
