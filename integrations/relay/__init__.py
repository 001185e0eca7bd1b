"""Relays with confirmed commands: a lifecycle in the database, a queue for offline devices, safety limits.

Every relay of our node firmware (devices announced with manufacturer "powerhub") comes under
command control by itself, as soon as MQTT discovery creates its switch. Other MQTT switches
join by name; each entry may override the defaults:

    relay:
      timeout: 5                  # seconds to wait for the device's state echo
      queue_ttl: 300              # how long commands for an offline device wait
      min_on_time: 0              # defaults for every relay (seconds; 0 = no limit)
      min_off_time: 0
      max_toggles_per_minute: 0   # 0 = unlimited
      firmware_relays: true       # adopt our firmware's relays automatically
      switches:
        - entity_id: switch.boiler          # or unique_id: <the discovery unique_id>
          min_off_time: 180                 # a compressor rests 3 minutes
          max_toggles_per_minute: 4
      rate_limit:                 # POST /api/v1/devices/{id}/command[s], PUT .../config
        per_user: {commands: 20, seconds: 10}    # a burst of 20, one back every 0.5 s
        per_device: {commands: 10, seconds: 10}  # commands: 0 lifts a limit

The relay integration becomes the command policy of each such switch (the seam of toggle
entities, hub.core.entity.CommandPolicy, described in docs/integrations.md); it uses the MQTT
integration only through `integrations.mqtt.api(hub)` and the switch's documented attributes.
What changes for a relay under command control:
* `switch.turn_on/turn_off/toggle` (and `POST /api/v1/devices/{id}/command`) create a command
  in `relay_commands`: queued -> sent -> acknowledged (the broker took it) -> confirmed (the
  device echoed the state), or failed / timed_out / expired. The switch's state changes only
  when the device reports it, never optimistically.
* No confirmation within `timeout` fires `relay_command_failed` {entity_id, command, reason}.
* While the device is offline (its availability topic says so, or the broker is down),
  commands wait up to `queue_ttl` and go out in order when it returns.
* A command that would break a safety limit is refused with a ServiceValidationError naming
  the limit and when to try again; nothing is sent.
* Every command is in the audit log (action `relay_command`) with its user and context.

The integration also owns the rest of a device's command surface, on the same table and
lifecycle (docs/devices.md, "The device API"): `POST /api/v1/devices/{id}/commands` for any
command a device's entities offer (set_value, select_option, press, reboot; entity_commands.py),
`GET /api/v1/devices/{id}/commands[/{cmd_id}]`, typed configuration over
`devices/<id>/config/set|state` (`GET/PUT /api/v1/devices/{id}/config`; device_config.py), the
per-user and per-device rate limits of those routes, and the `device_command` event on every
change of a command's status (the realtime socket's `command.status`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hub import hookimpl
from integrations.relay.config import CONFIG_SCHEMA, normalized
from integrations.relay.controller import EVENT_RELAY_COMMAND_FAILED
from integrations.relay.manager import RelayManager, manager_of
from integrations.relay.store import CommandStore

if TYPE_CHECKING:
    from aiohttp import web

    from hub.core.hub import Hub

__all__ = ["CONFIG_SCHEMA", "EVENT_RELAY_COMMAND_FAILED", "manager_of"]
_LOGGER = logging.getLogger(__name__)


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Adopt relays as MQTT discovers them and start the command writer."""
    settings = normalized(config)
    store = CommandStore(hub.db)
    manager = RelayManager(hub, settings, store)
    store.start()
    manager.start()

    async def stop() -> None:
        manager.stop()
        await store.stop()

    hub.on_stop(stop)


@hookimpl
def register_http_routes(hub: Hub, app: web.Application) -> None:
    """Add POST /api/v1/devices/{id}/command."""
    from integrations.relay.http import add_routes

    add_routes(app)


@hookimpl
def register_websocket_commands(hub: Hub, register: Any) -> None:
    """Add `relay/commands`: the newest commands of a relay (or all), for the frontend."""
    import voluptuous as vol

    async def handle(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
        manager = manager_of(hub)
        rows = await manager.store.recent(msg.get("entity_id"), msg["limit"]) if manager else []
        for row in rows:
            for key in ("created_at", "sent_at", "confirmed_at"):
                row[key] = row[key].isoformat() if row[key] is not None else None
        connection.send_result(msg["id"], rows)

    register("relay/commands", handle, {vol.Optional("entity_id"): str, vol.Optional("limit", default=50): vol.All(int, vol.Range(min=1, max=1000))})
