"""The entity registry: what the hub remembers about each entity, in memory, written through."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import re
from collections.abc import Callable, Iterator, ValuesView
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.exceptions import InvalidEntityFormatError
from hub.registry.util import (
    MAX_ENTITY_ID_LENGTH,
    UNDEFINED,
    DeviceNotFoundError,
    EntityIdInUseError,
    EntityNotFoundError,
    RegistryError,
    UndefinedType,
    slugify,
    split_entity_id,
    valid_entity_id,
)
from hub.registry.writer import RegistryWriter
from hub.storage.models import EntityRow, table_of, utcnow
from hub.util import new_ulid

if TYPE_CHECKING:
    from hub.registry.areas import AreaRegistry
    from hub.registry.devices import DeviceRegistry

ENTITIES = table_of(EntityRow)
_INSERT = insert(ENTITIES)

_VALID_DOMAIN = re.compile(r"^(?!_)[\da-z_]+(?<!_)$")

# Fields an integration owns: get_or_create() refreshes them on every call that passes them.
_INTEGRATION_FIELDS = (
    "device_id",
    "original_name",
    "original_icon",
    "original_device_class",
    "unit_of_measurement",
    "entity_category",
    "capabilities",
)


@dataclass(frozen=True, slots=True)
class EntityEntry:
    """One registered entity (immutable; the registry replaces it on every change).

    `name`, `icon`, `device_class`, `disabled_by`, `hidden_by` and `area_id` are the user's
    (an entity without its own area is in its device's area, as in Home Assistant);
    the `original_*` fields are what the integration reports.
    """

    id: str
    entity_id: str
    unique_id: str
    platform: str
    domain: str
    device_id: str | None
    name: str | None
    original_name: str | None
    icon: str | None
    original_icon: str | None
    device_class: str | None
    original_device_class: str | None
    unit_of_measurement: str | None
    entity_category: str | None
    disabled_by: str | None
    hidden_by: str | None
    area_id: str | None
    capabilities: dict[str, Any] | None = field(hash=False)
    created_at: datetime
    modified_at: datetime

    @property
    def object_id(self) -> str:
        return self.entity_id.partition(".")[2]

    @property
    def disabled(self) -> bool:
        return self.disabled_by is not None

    @property
    def hidden(self) -> bool:
        return self.hidden_by is not None

    @property
    def display_name(self) -> str | None:
        """The user's name if set, else the integration's."""
        return self.name or self.original_name


# Table columns in EntityEntry's field order, so that rows build entries positionally (fast).
_COLUMNS = tuple(ENTITIES.c[f.name] for f in dataclasses.fields(EntityEntry))


def _row_values(entry: EntityEntry) -> dict[str, Any]:
    return {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}


class EntityRegistry:
    """All registered entities in memory, indexed by entity_id, (domain, platform, unique_id)
    and device; writes go to the database before memory changes, one at a time."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        device_registry: DeviceRegistry | None = None,
        area_registry: AreaRegistry | None = None,
    ) -> None:
        """With `device_registry`, device ids are checked against it and removing a device
        clears `device_id` of its entities here too (else call `clear_device` yourself).
        With `area_registry`, the same for area ids and deleted areas (`clear_area`)."""
        self._session_factory = session_factory
        self._device_registry = device_registry
        self._area_registry = area_registry
        # The device registry's writer when there is one: an entity's row follows its device's.
        self.writer = device_registry.writer if device_registry is not None else RegistryWriter(session_factory)
        self._lock = asyncio.Lock()
        # Called with Home Assistant's `entity_registry_updated` data after each change (the hub fires it).
        self.change_listeners: list[Callable[[dict[str, Any]], None]] = []
        # The home's plan limit (hub.tenancy.limits): called with the count before a new entry; raises to refuse.
        self.admit: Callable[[int], None] | None = None
        self._entities: dict[str, EntityEntry] = {}
        self._by_unique_id: dict[tuple[str, str, str], str] = {}
        self._by_device: dict[str, set[str]] = {}
        if device_registry is not None:
            device_registry.add_remove_listener(self.clear_device)
        if area_registry is not None:
            area_registry.add_clear_listener(self.clear_area)

    # ---- reading (memory only) ----

    async def load(self) -> None:
        """Read every entity from the database, replacing what is in memory."""
        async with self._lock:
            async with self._session_factory() as session:
                rows = (await session.execute(select(*_COLUMNS))).all()
            self._entities.clear()
            self._by_unique_id.clear()
            self._by_device.clear()
            for row in rows:
                self._index(EntityEntry(*row))

    def get(self, entity_id: str) -> EntityEntry | None:
        return self._entities.get(entity_id)

    def get_entity_id(self, domain: str, platform: str, unique_id: str) -> str | None:
        return self._by_unique_id.get((domain, platform, str(unique_id)))

    def entries_for_device(self, device_id: str) -> list[EntityEntry]:
        return [self._entities[entity_id] for entity_id in sorted(self._by_device.get(device_id, ()))]

    @property
    def entities(self) -> ValuesView[EntityEntry]:
        return self._entities.values()

    def __len__(self) -> int:
        return len(self._entities)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._entities

    def __iter__(self) -> Iterator[EntityEntry]:
        return iter(self._entities.values())

    # ---- writing ----

    async def get_or_create(
        self,
        domain: str,
        platform: str,
        unique_id: str,
        *,
        suggested_object_id: str | None = None,
        device_id: str | None | UndefinedType = UNDEFINED,
        original_name: str | None | UndefinedType = UNDEFINED,
        original_icon: str | None | UndefinedType = UNDEFINED,
        original_device_class: str | None | UndefinedType = UNDEFINED,
        unit_of_measurement: str | None | UndefinedType = UNDEFINED,
        entity_category: str | None | UndefinedType = UNDEFINED,
        capabilities: dict[str, Any] | None | UndefinedType = UNDEFINED,
        disabled_by: str | None = None,
        hidden_by: str | None = None,
    ) -> EntityEntry:
        """The entry of (domain, platform, unique_id), registered if new.

        A new entry gets entity_id `domain.<slug of suggested_object_id, original_name or
        unique_id>`, with `_2`, `_3`... when taken; `disabled_by`/`hidden_by` only apply to a
        new entry. An existing entry keeps its entity_id and the user's fields (name, icon,
        device_class, disabled_by, hidden_by); the integration's fields that are passed
        (None included) replace the stored ones, those not passed stay.
        """
        if not isinstance(domain, str) or not _VALID_DOMAIN.match(domain):
            raise InvalidEntityFormatError(f"Invalid domain {domain!r}")
        if not platform:
            raise RegistryError("An entity needs a platform")
        unique_id = str(unique_id)
        given: dict[str, Any] = {
            key: value
            for key, value in (
                ("device_id", device_id),
                ("original_name", original_name),
                ("original_icon", original_icon),
                ("original_device_class", original_device_class),
                ("unit_of_measurement", unit_of_measurement),
                ("entity_category", entity_category),
                ("capabilities", capabilities),
            )
            if value is not UNDEFINED
        }
        if given.get("capabilities") is not None:
            given["capabilities"] = copy.deepcopy(dict(given["capabilities"]))

        async with self._lock:
            self._check_device(given.get("device_id"))
            now = utcnow()
            existing_id = self._by_unique_id.get((domain, platform, unique_id))
            if existing_id is not None:
                existing = self._entities[existing_id]
                changes = {k: v for k, v in given.items() if getattr(existing, k) != v}
                return await self._apply(existing, changes, now)

            if self.admit is not None:
                self.admit(len(self._entities))
            base = suggested_object_id or given.get("original_name") or unique_id
            entry = EntityEntry(
                id=new_ulid(),
                entity_id=self._free_entity_id(domain, base, platform, unique_id),
                unique_id=unique_id,
                platform=platform,
                domain=domain,
                device_id=given.get("device_id"),
                name=None,
                original_name=given.get("original_name"),
                icon=None,
                original_icon=given.get("original_icon"),
                device_class=None,
                original_device_class=given.get("original_device_class"),
                unit_of_measurement=given.get("unit_of_measurement"),
                entity_category=given.get("entity_category"),
                disabled_by=disabled_by,
                hidden_by=hidden_by,
                area_id=None,
                capabilities=given.get("capabilities"),
                created_at=now,
                modified_at=now,
            )
            await self._write(_INSERT, _row_values(entry))
            self._index(entry)
            self._changed({"action": "create", "entity_id": entry.entity_id})
            return entry

    async def update(
        self,
        entity_id: str,
        *,
        new_entity_id: str | None = None,
        name: str | None | UndefinedType = UNDEFINED,
        icon: str | None | UndefinedType = UNDEFINED,
        device_class: str | None | UndefinedType = UNDEFINED,
        disabled_by: str | None | UndefinedType = UNDEFINED,
        hidden_by: str | None | UndefinedType = UNDEFINED,
        area_id: str | None | UndefinedType = UNDEFINED,
    ) -> EntityEntry:
        """Apply the user's changes. `new_entity_id` renames the entity within its domain;
        it must be a valid `domain.object_id` that no other entity has."""
        changes: dict[str, Any] = {
            key: value
            for key, value in (
                ("name", name),
                ("icon", icon),
                ("device_class", device_class),
                ("disabled_by", disabled_by),
                ("hidden_by", hidden_by),
                ("area_id", area_id),
            )
            if value is not UNDEFINED
        }
        async with self._lock:
            if "area_id" in changes and self._area_registry is not None:
                self._area_registry.check(changes["area_id"])
            existing = self._entities.get(entity_id)
            if existing is None:
                raise EntityNotFoundError(f"Entity {entity_id} not found")
            if new_entity_id is not None and new_entity_id != entity_id:
                new_domain, _ = split_entity_id(new_entity_id)
                if new_domain != existing.domain:
                    raise InvalidEntityFormatError(
                        f"Cannot change the domain of {entity_id} to {new_domain!r}"
                    )
                if new_entity_id in self._entities:
                    raise EntityIdInUseError(f"Entity id {new_entity_id} is already in use")
                changes["entity_id"] = new_entity_id
            changes = {k: v for k, v in changes.items() if getattr(existing, k) != v}
            return await self._apply(existing, changes, utcnow())

    async def remove(self, entity_id: str) -> None:
        async with self._lock:
            entry = self._entities.get(entity_id)
            if entry is None:
                raise EntityNotFoundError(f"Entity {entity_id} not found")
            await self._write(delete(ENTITIES).where(ENTITIES.c.id == entry.id))
            self._unindex(entry)
            self._changed({"action": "remove", "entity_id": entity_id})

    async def clear_device(self, device_id: str) -> None:
        """Forget `device_id` on every entity that has it (after that device was removed)."""
        async with self._lock:
            entity_ids = sorted(self._by_device.get(device_id, ()))
            now = utcnow()
            await self._write(
                update(ENTITIES)
                .where(ENTITIES.c.device_id == device_id)
                .values(device_id=None, modified_at=now)
            )
            for entity_id in entity_ids:
                entry = self._entities[entity_id]
                self._unindex(entry)
                self._index(dataclasses.replace(entry, device_id=None, modified_at=now))

    async def clear_area(self, area_id: str) -> None:
        """Take `area_id` off every entity that has it (before that area is deleted)."""
        async with self._lock:
            now = utcnow()
            await self._write(
                update(ENTITIES).where(ENTITIES.c.area_id == area_id).values(area_id=None, modified_at=now)
            )
            for entry in [e for e in self._entities.values() if e.area_id == area_id]:
                self._entities[entry.entity_id] = dataclasses.replace(entry, area_id=None, modified_at=now)

    # ---- internals ----

    def _check_device(self, device_id: str | None) -> None:
        if (
            device_id is not None
            and self._device_registry is not None
            and self._device_registry.get(device_id) is None
        ):
            raise DeviceNotFoundError(f"Device {device_id} not found")

    def _free_entity_id(self, domain: str, base: str, platform: str, unique_id: str) -> str:
        # As Home Assistant: an empty name falls back to platform and unique id; a name with nothing
        # to slug in it gives "unknown".
        object_id = slugify(base) or slugify(f"{platform} {unique_id}")
        # Leave room for the domain, the dot and a `_NNNN` suffix.
        object_id = object_id[: MAX_ENTITY_ID_LENGTH - len(domain) - 1 - 6].rstrip("_")
        candidate = f"{domain}.{object_id}"
        number = 2
        while candidate in self._entities:
            candidate = f"{domain}.{object_id}_{number}"
            number += 1
        if not valid_entity_id(candidate):
            raise InvalidEntityFormatError(f"Cannot make a valid entity_id from {base!r}: {candidate!r}")
        return candidate

    async def _apply(self, existing: EntityEntry, changes: dict[str, Any], now: datetime) -> EntityEntry:
        if not changes:
            return existing
        entry = dataclasses.replace(existing, **changes, modified_at=now)
        await self._write(
            update(ENTITIES).where(ENTITIES.c.id == entry.id).values(**changes, modified_at=now)
        )
        self._unindex(existing)
        self._index(entry)
        data: dict[str, Any] = {"action": "update", "entity_id": entry.entity_id,
                                "changes": {key: getattr(existing, key) for key in changes}}
        if entry.entity_id != existing.entity_id:
            data["old_entity_id"] = existing.entity_id
        self._changed(data)
        return entry

    def _changed(self, data: dict[str, Any]) -> None:
        for listener in self.change_listeners:
            listener(data)

    async def _write(self, statement: Any, params: dict[str, Any] | None = None) -> None:
        await self.writer.write(statement, params, "Entity")

    def _index(self, entry: EntityEntry) -> None:
        self._entities[entry.entity_id] = entry
        self._by_unique_id[(entry.domain, entry.platform, entry.unique_id)] = entry.entity_id
        if entry.device_id is not None:
            self._by_device.setdefault(entry.device_id, set()).add(entry.entity_id)

    def _unindex(self, entry: EntityEntry) -> None:
        self._entities.pop(entry.entity_id, None)
        self._by_unique_id.pop((entry.domain, entry.platform, entry.unique_id), None)
        if entry.device_id is not None:
            on_device = self._by_device.get(entry.device_id)
            if on_device is not None:
                on_device.discard(entry.entity_id)
                if not on_device:
                    del self._by_device[entry.device_id]


__all__ = ["EntityEntry", "EntityRegistry"]
