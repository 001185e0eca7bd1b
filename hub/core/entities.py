"""The entities of the running hub: adding, removing, naming, and the domain services."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.core.entity import (
    ButtonEntity,
    Entity,
    NumberEntity,
    SelectEntity,
    TextEntity,
    ToggleCommand,
    ToggleEntity,
)
from hub.core.services import ENTITY_MATCH_ALL, TARGET_KEYS, ServiceCall
from hub.exceptions import HubError, ServiceValidationError
from hub.util import slugify

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.registry.devices import DeviceEntry
    from hub.registry.entities import EntityEntry

_LOGGER = logging.getLogger(__name__)


DEVICE_INFO_KEYS = (
    "identifiers",
    "connections",
    "name",
    "manufacturer",
    "model",
    "model_id",
    "sw_version",
    "hw_version",
    "serial_number",
    "suggested_area",
    "configuration_url",
    "via_device",
)


class Entities:
    """Every entity object the hub runs, by entity_id, and the services of their domains."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._entities: dict[str, Entity] = {}
        self._domains_with_services: set[str] = set()

    def get(self, entity_id: str) -> Entity | None:
        """Return the entity object for entity_id."""
        return self._entities.get(entity_id)

    def __len__(self) -> int:
        return len(self._entities)

    def __iter__(self) -> Iterator[Entity]:
        return iter(list(self._entities.values()))

    def for_domain(self, domain: str) -> list[Entity]:
        """Return the entities of one domain."""
        return [e for e in self._entities.values() if e.domain == domain]

    async def add(self, entity: Entity, platform: str) -> Entity:
        """Give the entity its entity_id and device, write its first state, and return it.

        With a unique_id the entity registry decides the entity_id, so a user's rename
        survives restarts; without one the entity_id comes from the name.
        """
        if not entity.domain:
            message = f"{type(entity).__name__} has no domain"
            raise HubError(message)
        entity.hub = self._hub
        entity.platform = platform
        device_registry = self._hub.device_registry
        entity_registry = self._hub.entity_registry
        if entity.device_info and device_registry is not None:
            info = {k: v for k, v in entity.device_info.items() if k in DEVICE_INFO_KEYS}
            device = await device_registry.get_or_create(integration=platform, **info)
            entity.device_id = device.id
            entity.device_name = device.name_by_user or device.name
        elif entity.device_info:
            entity.device_name = entity.device_info.get("name")
        if entity.unique_id is not None and entity_registry is not None:
            # A registered entity keeps its entity_id: its suggestion (a slug) is not needed.
            known = entity_registry.get_entity_id(entity.domain, platform, entity.unique_id) is not None
            entry = await entity_registry.get_or_create(
                entity.domain,
                platform,
                entity.unique_id,
                suggested_object_id=None if known else self._suggested_object_id(entity),
                device_id=entity.device_id,
                original_name=entity.name,
                original_icon=entity.icon,
                original_device_class=entity.device_class,
                unit_of_measurement=entity.unit_of_measurement,
                entity_category=entity.entity_category,
            )
            entity.entity_id = entry.entity_id
            # Set only when the user gave one: most entities keep the class default (None).
            if entry.name is not None or entity.registry_name is not None:
                entity.registry_name = entry.name
            if entry.icon is not None or entity.registry_icon is not None:
                entity.registry_icon = entry.icon
            if entry.disabled_by is not None:
                _LOGGER.debug("Not adding disabled entity %s", entry.entity_id)
                return entity
        elif entity.entity_id is None:
            entity.entity_id = self._free_entity_id(entity.domain, self._suggested_object_id(entity))
        if entity.entity_id in self._entities:
            message = f"Entity id already exists: {entity.entity_id} (from {platform})"
            raise HubError(message)
        self._entities[entity.entity_id] = entity
        self._ensure_domain_services(entity.domain)
        await entity.added_to_hub()
        entity.write_state()
        return entity

    async def remove(self, entity_id: str) -> None:
        """Remove an entity object and its state."""
        entity = self._entities.pop(entity_id, None)
        if entity is None:
            return
        await entity.will_remove_from_hub()
        self._hub.states.remove(entity_id)

    async def update_registry_entry(self, entity_id: str, **changes: Any) -> EntityEntry:
        """Apply a user's change (new_entity_id, name, icon, ...) to the registry and the live entity.

        A renamed entity moves at once: its old state is removed and it writes its state under
        the new entity_id, as Home Assistant does.
        """
        entry = await self._hub.require_entity_registry().update(entity_id, **changes)
        entity = self._entities.get(entity_id)
        if entity is None:
            restored = self._hub.states.get(entity_id)
            if restored is not None and entry.entity_id != entity_id:
                self._hub.states.remove(entity_id)
                self._hub.states.set(entry.entity_id, restored.state, restored.attributes)
            return entry
        entity.registry_name = entry.name
        entity.registry_icon = entry.icon
        if entry.entity_id != entity_id:
            del self._entities[entity_id]
            self._hub.states.remove(entity_id)
            entity.entity_id = entry.entity_id
            self._entities[entry.entity_id] = entity
        entity.write_state()
        return entry

    async def update_device_entry(self, device_id: str, **changes: Any) -> DeviceEntry:
        """Apply a user's change (name_by_user, area, ...) to a device and to its live entities.

        The entities of a renamed device show the new name at once (their friendly_name is
        built from the device's name).
        """
        device = await self._hub.require_device_registry().update(device_id, **changes)
        name = device.name_by_user or device.name
        for entity in self._entities.values():
            if entity.device_id == device_id and entity.device_name != name:
                entity.device_name = name
                entity.write_state()
        return device

    def _suggested_object_id(self, entity: Entity) -> str:
        if entity.entity_id:
            return entity.entity_id.partition(".")[2]
        if entity.has_entity_name and entity.device_name:
            return slugify(f"{entity.device_name} {entity.name or ''}") or entity.domain
        if entity.name:
            return slugify(entity.name) or entity.domain
        # Nothing names it: Home Assistant's registry falls back to "<platform>_<unique_id>".
        if entity.unique_id is not None:
            return slugify(f"{entity.platform or entity.domain}_{entity.unique_id}") or entity.domain
        return "unnamed_device"

    def _free_entity_id(self, domain: str, object_id: str) -> str:
        candidate = f"{domain}.{object_id}"
        number = 2
        while candidate in self._entities or self._hub.states.get(candidate) is not None:
            candidate = f"{domain}.{object_id}_{number}"
            number += 1
        return candidate

    def entities_for(self, call: ServiceCall, domain: str) -> list[Entity]:
        """Return the entities of domain that a service call targets."""
        ids = call.entity_ids
        if ids is None:
            message = f"Service {call.domain}.{call.service} needs a target: entity_id, device_id or area_id"
            raise ServiceValidationError(message)
        if ids == [ENTITY_MATCH_ALL]:
            return self.for_domain(domain)
        found = []
        for entity_id in ids:
            entity = self._entities.get(entity_id)
            if entity is not None and entity.domain == domain:
                found.append(entity)
            elif entity is None and entity_id.startswith(f"{domain}."):
                _LOGGER.warning("Referenced entity %s is missing or not available", entity_id)
        return found

    def _ensure_domain_services(self, domain: str) -> None:
        if domain in self._domains_with_services:
            return
        self._domains_with_services.add(domain)
        for service, method, schema in DOMAIN_SERVICES.get(domain, ()):
            self._hub.services.register(
                domain, service, self._entity_service_handler(domain, method), schema
            )

    def _entity_service_handler(self, domain: str, method: str) -> Callable[[ServiceCall], Awaitable[None]]:
        async def handle(call: ServiceCall) -> None:
            entities = self.entities_for(call, domain)
            kwargs = {k: v for k, v in call.data.items() if k not in TARGET_KEYS}
            results = await asyncio.gather(
                *(_call_entity(entity, method, kwargs, call) for entity in entities),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result

        return handle


async def _call_entity(entity: Entity, method: str, kwargs: dict[str, Any], call: ServiceCall) -> None:
    # The context of the call travels to the state the entity writes next.
    entity.context = call.context
    if method == "set_number":
        assert isinstance(entity, NumberEntity)
        await entity.set_value(entity.check_value(float(kwargs["value"])))
    elif method == "set_text":
        assert isinstance(entity, TextEntity)
        await entity.set_value(entity.check_value(str(kwargs["value"])))
    elif method == "select_option":
        assert isinstance(entity, SelectEntity)
        await entity.select_option(entity.check_option(str(kwargs["option"])))
    elif method in ("select_first", "select_last", "select_next", "select_previous"):
        assert isinstance(entity, SelectEntity)
        await entity.select_option(_cycle_option(entity, method, kwargs.get("cycle", True)))
    elif method == "press":
        assert isinstance(entity, ButtonEntity)
        await entity.pressed()
    elif method in _TOGGLE_COMMANDS and isinstance(entity, ToggleEntity):
        # Through request(), where another integration may have put a command policy.
        await entity.request(_TOGGLE_COMMANDS[method], call.context, **kwargs)
    else:
        await getattr(entity, method)(**kwargs)


def _cycle_option(entity: SelectEntity, method: str, cycle: bool) -> str:
    options = list(entity.options)
    if not options:
        message = f"Select {entity.entity_id} has no options"
        raise ServiceValidationError(message)
    if method == "select_first":
        return options[0]
    if method == "select_last":
        return options[-1]
    step = 1 if method == "select_next" else -1
    if entity.current_option not in options:
        return options[0] if step == 1 else options[-1]
    index = options.index(entity.current_option) + step
    if cycle:
        return options[index % len(options)]
    return options[max(0, min(index, len(options) - 1))]


_TARGET: dict[Any, Any] = {
    vol.Optional("entity_id"): object,
    vol.Optional("device_id"): object,
    vol.Optional("area_id"): object,
}
_TARGET_ONLY = vol.Schema(_TARGET, extra=vol.ALLOW_EXTRA)
_NUMBER = vol.Schema({**_TARGET, vol.Required("value"): vol.Coerce(float)})
_TEXT = vol.Schema({**_TARGET, vol.Required("value"): vol.Coerce(str)})
_OPTION = vol.Schema({**_TARGET, vol.Required("option"): vol.Coerce(str)})
_CYCLE = vol.Schema({**_TARGET, vol.Optional("cycle", default=True): bool})
_PRESS = vol.Schema(_TARGET)
_TOGGLE_COMMANDS: dict[str, ToggleCommand] = {"turn_on": "on", "turn_off": "off", "toggle": "toggle"}
_TOGGLE = [
    ("turn_on", "turn_on", _TARGET_ONLY),
    ("turn_off", "turn_off", _TARGET_ONLY),
    ("toggle", "toggle", _TARGET_ONLY),
]

DOMAIN_SERVICES: dict[str, list[tuple[str, str, vol.Schema]]] = {
    "switch": _TOGGLE,
    "light": _TOGGLE,
    "number": [("set_value", "set_number", _NUMBER)],
    "text": [("set_value", "set_text", _TEXT)],
    "select": [
        ("select_option", "select_option", _OPTION),
        ("select_first", "select_first", _PRESS),
        ("select_last", "select_last", _PRESS),
        ("select_next", "select_next", _CYCLE),
        ("select_previous", "select_previous", _CYCLE),
    ],
    "button": [("press", "press", _PRESS)],
}


def register_core_services(hub: Hub) -> None:
    """Register homeassistant.turn_on/turn_off/toggle, which fan out to each domain's service."""

    def make(service: str) -> Callable[[ServiceCall], Awaitable[None]]:
        async def handle(call: ServiceCall) -> None:
            by_domain: dict[str, list[str]] = defaultdict(list)
            ids = call.entity_ids or []
            if ids == [ENTITY_MATCH_ALL]:
                ids = [e.entity_id for e in hub.entities if isinstance(e, ToggleEntity) and e.entity_id]
            for entity_id in ids:
                by_domain[entity_id.partition(".")[0]].append(entity_id)
            data = {k: v for k, v in call.data.items() if k not in TARGET_KEYS}
            calls = []
            for domain, entity_ids in by_domain.items():
                if not hub.services.has_service(domain, service):
                    _LOGGER.warning("Unable to find service %s.%s", domain, service)
                    continue
                calls.append(
                    hub.services.call(
                        domain, service, {**data, "entity_id": entity_ids}, context=call.context
                    )
                )
            await asyncio.gather(*calls)

        return handle

    for service in ("turn_on", "turn_off", "toggle"):
        hub.services.register("homeassistant", service, make(service), _TARGET_ONLY)
