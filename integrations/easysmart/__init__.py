"""EasySmart-style device topics: devices that announce themselves in their own format.

    easysmart:
      root: ""            # default: the MQTT integration's topic root (`mqtt: topic_root`)
      max_age: 86400      # seconds a reading's own time may be behind the hub's clock
      max_ahead: 300      # ... and ahead of it; outside, the reading is taken at its receive time

The layout (`devices/{id}/discovery|status|{entity}/state|{entity}/set|telemetry`) and every
payload are described in docs/easysmart.md. Each announced entity becomes a hub entity of the
device (sensor, binary_sensor, switch, number, select); telemetry fields nobody announced get
a sensor, so no reading is lost. The hub's own nodes share the `devices/` tree; the adapter
acts only on devices that sent an EasySmart discovery.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from hub.core.runtime import HubKey
from hub.reading_time import Skew
from integrations.easysmart.adapter import Adapter
from integrations.easysmart.protocol import Topics

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DOMAIN = "easysmart"
ADAPTER: HubKey[Adapter] = HubKey("easysmart")


def _root(value: Any) -> str:
    text = str(value or "")
    if "+" in text or "#" in text or text.startswith("/"):
        message = f"root must be a topic prefix without wildcards or a leading /, got {text!r}"
        raise vol.Invalid(message)
    return text if not text or text.endswith("/") else text + "/"


CONFIG_SCHEMA = vol.Schema(vol.Any(None, {
    vol.Optional("root"): _root,
    vol.Optional("max_age", default=86_400): vol.All(vol.Coerce(float), vol.Range(min=0)),
    vol.Optional("max_ahead", default=300): vol.All(vol.Coerce(float), vol.Range(min=0)),
}))


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Subscribe to the device topics through the MQTT integration's connection."""
    from integrations.mqtt import api as mqtt_api  # noqa: PLC0415 - the MQTT integration is set up first

    config = CONFIG_SCHEMA(config) or CONFIG_SCHEMA({})
    mqtt = mqtt_api(hub)
    if mqtt is None:
        _LOGGER.error("easysmart needs the mqtt integration")
        return
    root = config["root"] if "root" in config else _root(getattr(mqtt, "topic_root", ""))
    adapter = Adapter(hub, mqtt, Topics(root), Skew(config["max_age"], config["max_ahead"]))
    hub.runtime[ADAPTER] = adapter
    for undo in adapter.subscribe():
        hub.on_stop(undo)
    if "telemetry_backfill" in hub.config.components:
        _LOGGER.warning("easysmart and telemetry_backfill may both read %s: a batch of an EasySmart device is then "
                        "also written by telemetry_backfill, under sensor.<device>_<field>. Give telemetry_backfill "
                        "its own `topic:` if your other nodes use one", Topics(root).telemetry())
