"""The integration behind each input domain (input_boolean ... counter, timer): YAML, services, reload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from automations.inputs import ENTITY_CLASSES, InputEntity
from automations.loader import build_each, reload_section
from automations.timer import Timer
from hub import hookimpl
from hub.core.runtime import HubKey
from hub.core.services import TARGET_KEYS, ServiceCall

if TYPE_CHECKING:
    from hub.core.hub import Hub

CLASSES: dict[str, type[InputEntity]] = {**ENTITY_CLASSES, "timer": Timer}
_TARGET = {
    vol.Optional("entity_id"): vol.Any(str, [str]),
    vol.Optional("device_id"): vol.Any(str, [str]),
    vol.Optional("area_id"): vol.Any(str, [str]),
}


def make_integration(domain: str) -> tuple[Any, Any, Any]:
    """Return (CONFIG_SCHEMA, setup_integration, config_entity_ids) for one input domain."""
    cls = CLASSES[domain]
    key: HubKey[dict[str, InputEntity]] = HubKey(domain)

    async def load(hub: Hub, section: Any) -> None:
        current = hub.runtime.setdefault(key, dict)
        section = section or {}
        for object_id in list(current):
            if object_id not in section or current[object_id].config != (section[object_id] or {}):
                entity = current.pop(object_id)
                await hub.entities.remove(entity.entity_id)
        items = [(str(k), v or {}) for k, v in section.items() if str(k) not in current]
        built, _issues = build_each(hub, domain, items, lambda config, raw, object_id: cls(hub, object_id, config))
        for object_id, entity in built:
            await hub.entities.add(entity, domain)
            current[object_id] = entity

    @hookimpl
    async def setup_integration(hub: Hub, config: Any) -> None:
        await load(hub, config)

        def make(service: str, apply: Any) -> Any:
            async def handle(call: ServiceCall) -> None:
                data = {k: v for k, v in call.data.items() if k not in TARGET_KEYS}
                for entity in hub.entities.entities_for(call, domain):
                    if isinstance(entity, InputEntity):
                        apply(entity, data)
                        entity.changed(call)

            return handle

        for service, (schema, apply) in cls.SERVICES.items():
            hub.services.register(domain, service, make(service, apply), vol.Schema({**_TARGET, **(schema or {})}))

        async def reload(call: ServiceCall) -> None:
            await load(hub, reload_section(hub, domain))

        hub.services.register(domain, "reload", reload, vol.Schema({}))

    @hookimpl
    def config_entity_ids(hub: Hub, config: Any) -> list[str]:
        return [f"{domain}.{key}" for key in (config or {})]

    return vol.Any(None, Mapping), setup_integration, config_entity_ids
