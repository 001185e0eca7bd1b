"""The area registry: the rooms and zones of a home, in memory, written through to the database.

Areas follow Home Assistant's: the id is a slug of the name (`living_room`, then `living_room_2`
when taken), two areas may not have the same name once case and spaces are ignored, and
deleting an area takes it off every device and entity first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.registry.util import UNDEFINED, RegistryError, UndefinedType, slugify, valid_entity_id
from hub.registry.writer import RegistryWriter
from hub.storage.models import AreaRow, table_of, utcnow

AREAS = table_of(AreaRow)

ClearListener = Callable[[str], Awaitable[None] | None]


class AreaNotFoundError(RegistryError, KeyError):
    """No area with this id exists."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "Area not found"


class AreaNameInUseError(RegistryError, ValueError):
    """Another area already has this name (ignoring case and spaces)."""


def normalize_name(name: str) -> str:
    """Return the form of a name two areas may not share: NFKD, case-folded, without spaces."""
    return unicodedata.normalize("NFKD", name).casefold().replace(" ", "")


@dataclass(frozen=True, slots=True)
class AreaEntry:
    """One area (immutable; the registry replaces it on every change)."""

    id: str
    name: str
    normalized_name: str
    aliases: tuple[str, ...]
    floor_id: str | None
    humidity_entity_id: str | None
    temperature_entity_id: str | None
    icon: str | None
    labels: tuple[str, ...]
    picture: str | None
    created_at: datetime
    modified_at: datetime


_COLUMNS = tuple(AREAS.c[f.name] for f in dataclasses.fields(AreaEntry))


def _entry_from_row(row: Any) -> AreaEntry:
    values = row._asdict()
    values["aliases"] = tuple(values["aliases"] or ())
    values["labels"] = tuple(values["labels"] or ())
    return AreaEntry(**values)


def _row_values(entry: AreaEntry) -> dict[str, Any]:
    values = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}
    values["aliases"] = list(entry.aliases)
    values["labels"] = list(entry.labels)
    return values


def _unique(values: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise RegistryError(f"{what} must be a list of strings, got {values!r}")
    result: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise RegistryError(f"{what} must be non-empty strings, got {value!r}")
        if value.strip() not in result:
            result.append(value.strip())
    return tuple(result)


def _check_entity_id(value: str | None, what: str) -> None:
    if value is not None and not valid_entity_id(value):
        raise RegistryError(f"{what} must be an entity id like sensor.kitchen_temperature, got {value!r}")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise RegistryError(f"An area needs a name, got {name!r}")
    return name.strip()


class AreaRegistry:
    """All areas in memory, indexed by id and normalized name; writes go to the database before
    memory changes, one at a time (an asyncio.Lock)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        # Shared with the device and entity registries (their rows refer to areas): one order for all.
        self.writer = RegistryWriter(session_factory)
        self._lock = asyncio.Lock()
        self._areas: dict[str, AreaEntry] = {}
        self._by_name: dict[str, str] = {}
        self._clear_listeners: list[ClearListener] = []

    # ---- reading (memory only) ----

    async def load(self) -> None:
        """Read every area from the database, replacing what is in memory."""
        async with self._lock:
            async with self._session_factory() as session:
                rows = (await session.execute(select(*_COLUMNS))).all()
            self._areas.clear()
            self._by_name.clear()
            for row in rows:
                self._index(_entry_from_row(row))

    def get(self, area_id: str) -> AreaEntry | None:
        return self._areas.get(area_id)

    def get_by_name(self, name: str) -> AreaEntry | None:
        """The area with this name, ignoring case and spaces."""
        area_id = self._by_name.get(normalize_name(name))
        return None if area_id is None else self._areas[area_id]

    def __len__(self) -> int:
        return len(self._areas)

    def __contains__(self, area_id: object) -> bool:
        return area_id in self._areas

    def __iter__(self) -> Iterator[AreaEntry]:
        return iter(self._areas.values())

    def add_clear_listener(self, listener: ClearListener) -> Callable[[], None]:
        """Call `listener(area_id)` (sync or async) when an area is deleted, before its row goes,
        so that whatever points at it lets go first.

        Returns a function that unsubscribes it.
        """
        self._clear_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._clear_listeners:
                self._clear_listeners.remove(listener)

        return unsubscribe

    def check(self, area_id: str | None) -> None:
        """Raise AreaNotFoundError unless `area_id` is None or an existing area."""
        if area_id is not None and area_id not in self._areas:
            message = (
                f"Area {area_id!r} does not exist; the areas are: "
                f"{', '.join(sorted(self._areas)) or 'none yet'} (create one with config/area_registry/create)"
            )
            raise AreaNotFoundError(message)

    # ---- writing ----

    async def create(
        self,
        name: str,
        *,
        aliases: Iterable[str] = (),
        floor_id: str | None = None,
        humidity_entity_id: str | None = None,
        temperature_entity_id: str | None = None,
        icon: str | None = None,
        labels: Iterable[str] = (),
        picture: str | None = None,
    ) -> AreaEntry:
        """Create an area; its id is a slug of the name, made unique with `_2`, `_3`...

        Raises:
            AreaNameInUseError: another area has this name (ignoring case and spaces).
            RegistryError: a field is not what it should be.
        """
        name = _check_name(name)
        _check_entity_id(humidity_entity_id, "humidity_entity_id")
        _check_entity_id(temperature_entity_id, "temperature_entity_id")
        async with self._lock:
            normalized = normalize_name(name)
            self._check_name_free(name, normalized, None)
            now = utcnow()
            entry = AreaEntry(
                id=self._free_id(name),
                name=name,
                normalized_name=normalized,
                aliases=_unique(aliases, "aliases"),
                floor_id=floor_id,
                humidity_entity_id=humidity_entity_id,
                temperature_entity_id=temperature_entity_id,
                icon=icon,
                labels=_unique(labels, "labels"),
                picture=picture,
                created_at=now,
                modified_at=now,
            )
            await self.writer.write(insert(AREAS).values(**_row_values(entry)), None, "Area")
            self._index(entry)
            return entry

    async def update(
        self,
        area_id: str,
        *,
        name: str | UndefinedType = UNDEFINED,
        aliases: Iterable[str] | UndefinedType = UNDEFINED,
        floor_id: str | None | UndefinedType = UNDEFINED,
        humidity_entity_id: str | None | UndefinedType = UNDEFINED,
        temperature_entity_id: str | None | UndefinedType = UNDEFINED,
        icon: str | None | UndefinedType = UNDEFINED,
        labels: Iterable[str] | UndefinedType = UNDEFINED,
        picture: str | None | UndefinedType = UNDEFINED,
    ) -> AreaEntry:
        """Change an area's fields; its id stays (as in HA, renaming keeps the id)."""
        changes: dict[str, Any] = {}
        if name is not UNDEFINED:
            changes["name"] = _check_name(name)
            changes["normalized_name"] = normalize_name(changes["name"])
        if aliases is not UNDEFINED:
            changes["aliases"] = _unique(aliases, "aliases")
        if labels is not UNDEFINED:
            changes["labels"] = _unique(labels, "labels")
        for key, value in (
            ("floor_id", floor_id),
            ("humidity_entity_id", humidity_entity_id),
            ("temperature_entity_id", temperature_entity_id),
            ("icon", icon),
            ("picture", picture),
        ):
            if value is not UNDEFINED:
                changes[key] = value
        _check_entity_id(changes.get("humidity_entity_id"), "humidity_entity_id")
        _check_entity_id(changes.get("temperature_entity_id"), "temperature_entity_id")
        async with self._lock:
            existing = self._areas.get(area_id)
            if existing is None:
                raise AreaNotFoundError(f"Area {area_id!r} does not exist")
            if "name" in changes:
                self._check_name_free(changes["name"], changes["normalized_name"], area_id)
            changes = {key: value for key, value in changes.items() if getattr(existing, key) != value}
            if not changes:
                return existing
            now = utcnow()
            entry = dataclasses.replace(existing, **changes, modified_at=now)
            values = {key: getattr(entry, key) for key in changes}
            for key in ("aliases", "labels"):
                if key in values:
                    values[key] = list(values[key])
            await self.writer.write(update(AREAS).where(AREAS.c.id == area_id).values(**values, modified_at=now), None, "Area")
            self._unindex(existing)
            self._index(entry)
            return entry

    async def delete(self, area_id: str) -> None:
        """Delete an area after taking it off every device and entity (the clear listeners)."""
        async with self._lock:
            entry = self._areas.get(area_id)
            if entry is None:
                raise AreaNotFoundError(f"Area {area_id!r} does not exist")
            for listener in list(self._clear_listeners):
                result = listener(area_id)
                if inspect.isawaitable(result):
                    await result
            await self.writer.write(delete(AREAS).where(AREAS.c.id == area_id), None, "Area")
            self._unindex(entry)

    # ---- internals ----

    def _check_name_free(self, name: str, normalized: str, area_id: str | None) -> None:
        owner = self._by_name.get(normalized)
        if owner is not None and owner != area_id:
            message = f"The name {name} ({normalized}) is already in use by area {owner}"
            raise AreaNameInUseError(message)

    def _free_id(self, name: str) -> str:
        base = slugify(name) or "area"
        candidate, number = base, 2
        while candidate in self._areas:
            candidate = f"{base}_{number}"
            number += 1
        return candidate

    def _index(self, entry: AreaEntry) -> None:
        self._areas[entry.id] = entry
        self._by_name[entry.normalized_name] = entry.id

    def _unindex(self, entry: AreaEntry) -> None:
        self._areas.pop(entry.id, None)
        if self._by_name.get(entry.normalized_name) == entry.id:
            del self._by_name[entry.normalized_name]


__all__ = ["AreaEntry", "AreaNameInUseError", "AreaNotFoundError", "AreaRegistry", "normalize_name"]
