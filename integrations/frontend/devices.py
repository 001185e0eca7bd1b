"""Devices for the web UI: each with its entities and, on request, its MQTT discovery payloads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import payload_json
from hub.registry.devices import DeviceEntry

if TYPE_CHECKING:
    from hub.core.hub import Hub

NOT_FOUND = "not_found"


def device_dict(hub: Hub, device: DeviceEntry) -> dict[str, Any]:
    """Return the JSON the UI shows for one device."""
    registry = hub.entity_registry
    entities = [e.entity_id for e in registry.entries_for_device(device.id)] if registry is not None else []
    return {
        "id": device.id,
        "name": device.display_name or device.id,
        "original_name": device.name,
        "name_by_user": device.name_by_user,
        "manufacturer": device.manufacturer,
        "model": device.model,
        "sw_version": device.sw_version,
        "hw_version": device.hw_version,
        "integration": device.integration,
        "identifiers": sorted([list(pair) for pair in device.identifiers]),
        "via_device_id": device.via_device_id,
        "disabled": device.disabled,
        "entities": sorted(entities),
    }


def _payload_identifiers(payload: str) -> set[str]:
    """Identifiers a discovery payload names for its device (full or abbreviated keys)."""
    try:
        config = payload_json.loads(payload)
    except ValueError:
        return set()
    if not isinstance(config, dict):
        return set()
    device = config.get("device") or config.get("dev") or {}
    if not isinstance(device, dict):
        return set()
    ids = device.get("identifiers", device.get("ids", []))
    if isinstance(ids, str):
        ids = [ids]
    return {str(i) for i in ids} if isinstance(ids, list) else set()


async def discovery_payloads(hub: Hub, device: DeviceEntry) -> list[dict[str, Any]]:
    """Return the retained discovery messages that describe this device, newest first.

    They are the MQTT integration's: read through its API, none when MQTT does not run.
    """
    if "mqtt" not in hub.config.components:
        return []
    from integrations.mqtt import api  # noqa: PLC0415 - only when MQTT runs

    mqtt = api(hub)
    if mqtt is None:
        return []
    wanted = {identifier for _domain, identifier in device.identifiers}
    entries = await mqtt.discovery_configs()
    found = [
        {"topic": topic, "payload": entry.payload, "component": entry.component,
         "updated_at": entry.updated_at.isoformat()}
        for topic, entry in entries.items()
        if wanted & _payload_identifiers(entry.payload)
    ]
    return sorted(found, key=lambda item: item["updated_at"], reverse=True)


async def list_devices(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer frontend/devices."""
    registry = hub.device_registry
    devices = [] if registry is None else [device_dict(hub, d) for d in registry.devices]
    devices.sort(key=lambda d: str(d["name"]).lower())
    connection.send_result(msg["id"], devices)


def _device(hub: Hub, connection: Any, msg: dict[str, Any]) -> DeviceEntry | None:
    registry = hub.device_registry
    device = registry.get(msg["device_id"]) if registry is not None else None
    if device is None:
        connection.send_error(msg["id"], NOT_FOUND, f"Device {msg['device_id']} not found.")
    return device


async def get_device(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer frontend/device/get: the device, its entities and its discovery payloads."""
    device = _device(hub, connection, msg)
    if device is None:
        return
    result = device_dict(hub, device)
    result["discovery"] = await discovery_payloads(hub, device)
    connection.send_result(msg["id"], result)


async def update_device(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer frontend/device/update: rename (an empty name restores the device's own)."""
    device = _device(hub, connection, msg)
    if device is None:
        return
    name = (msg.get("name_by_user") or "").strip() or None
    updated = await hub.entities.update_device_entry(device.id, name_by_user=name)
    connection.send_result(msg["id"], device_dict(hub, updated))


async def remove_device(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
    """Answer frontend/device/remove."""
    device = _device(hub, connection, msg)
    if device is None:
        return
    await hub.require_device_registry().remove(device.id)
    connection.send_result(msg["id"], None)


def register_commands(register: Any) -> None:
    """Register the device commands."""
    device_id = {vol.Required("device_id"): str}
    register("frontend/devices", list_devices, {})
    register("frontend/device/get", get_device, device_id)
    register(
        "frontend/device/update",
        update_device,
        {**device_id, vol.Required("name_by_user"): vol.Any(None, vol.All(str, vol.Length(max=255)))},
        admin_only=True,
    )
    register("frontend/device/remove", remove_device, device_id, admin_only=True)
