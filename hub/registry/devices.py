"""The device registry: every device the hub knows, in memory, written through to the database."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, ValuesView
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.registry.util import (
    UNDEFINED,
    DeviceNotFoundError,
    IdentifierInUseError,
    RegistryError,
    UndefinedType,
)
from hub.registry.writer import RegistryWriter
from hub.storage.models import DeviceRow, table_of, utcnow
from hub.util import new_ulid

if TYPE_CHECKING:
    from hub.registry.areas import AreaRegistry

_LOGGER = logging.getLogger(__name__)

DEVICES = table_of(DeviceRow)
_INSERT = insert(DEVICES)

CONNECTION_MAC = "mac"

Pair = tuple[str, str]
# get_or_create() calls remembered with the entry they returned (a device's entities all ask).
_SEEN_LIMIT = 4096
RemoveListener = Callable[[str], Awaitable[None] | None]

# Fields that `update()` may change, beside identifiers and connections.
_UPDATABLE = frozenset(
    {
        "integration",
        "name",
        "name_by_user",
        "manufacturer",
        "model",
        "model_id",
        "sw_version",
        "hw_version",
        "serial_number",
        "suggested_area",
        "area_id",
        "configuration_url",
        "via_device_id",
        "disabled_by",
        "location",
    }
)


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One registered device (immutable; the registry replaces it on every change)."""

    id: str
    integration: str
    identifiers: frozenset[Pair]
    connections: frozenset[Pair]
    name: str | None
    name_by_user: str | None
    manufacturer: str | None
    model: str | None
    model_id: str | None
    sw_version: str | None
    hw_version: str | None
    serial_number: str | None
    suggested_area: str | None
    area_id: str | None
    configuration_url: str | None
    via_device_id: str | None
    disabled_by: str | None
    created_at: datetime
    modified_at: datetime
    # Where the device is, in the user's words ("under the stairs"); an area groups, this places.
    location: str | None = None

    @property
    def display_name(self) -> str | None:
        """The user's name if set, else the integration's."""
        return self.name_by_user or self.name

    @property
    def disabled(self) -> bool:
        return self.disabled_by is not None


def format_mac(mac: str) -> str:
    """A MAC address as lowercase colon-separated hex, when it looks like one (HA's rules)."""
    to_test = mac
    if len(to_test) == 17 and to_test.count(":") == 5:
        return to_test.lower()
    if len(to_test) == 17 and to_test.count("-") == 5:
        to_test = to_test.replace("-", "")
    elif len(to_test) == 14 and to_test.count(".") == 2:
        to_test = to_test.replace(".", "")
    if len(to_test) == 12:
        return ":".join(to_test.lower()[i : i + 2] for i in range(0, 12, 2))
    return mac


def _pairs(values: Iterable[Iterable[Any]], what: str) -> frozenset[Pair]:
    result: set[Pair] = set()
    for value in values:
        if isinstance(value, str):
            raise RegistryError(f"{what} must be (type, value) pairs, got {value!r}")
        pair = tuple(value)
        if len(pair) != 2:
            raise RegistryError(f"{what} must be (type, value) pairs, got {value!r}")
        result.add((str(pair[0]), str(pair[1])))
    return frozenset(result) if result else _NO_PAIRS


def _connections(values: Iterable[Iterable[Any]]) -> frozenset[Pair]:
    pairs = _pairs(values, "connections")
    if not pairs:
        return _NO_PAIRS
    return frozenset((kind, format_mac(value) if kind == CONNECTION_MAC else value) for kind, value in pairs)


# Most devices have no connections (or no identifiers): they share one empty frozenset, which
# CPython does not (an empty one is ~200 bytes).
_NO_PAIRS: frozenset[Pair] = frozenset()


def _to_json(pairs: frozenset[Pair]) -> list[list[str]]:
    return [list(pair) for pair in sorted(pairs)]


def _row_values(entry: DeviceEntry) -> dict[str, Any]:
    values = {field.name: getattr(entry, field.name) for field in dataclasses.fields(entry)}
    values["identifiers"] = _to_json(entry.identifiers)
    values["connections"] = _to_json(entry.connections)
    return values


# Table columns in DeviceEntry's field order, so that rows build entries positionally (fast).
_COLUMNS = tuple(DEVICES.c[f.name] for f in dataclasses.fields(DeviceEntry))
_IDENTIFIERS = 2
_CONNECTIONS = 3


def _entry_from_row(row: Any) -> DeviceEntry:
    values = list(row)
    for position in (_IDENTIFIERS, _CONNECTIONS):
        values[position] = frozenset((str(a), str(b)) for a, b in values[position] or ())
    return DeviceEntry(*values)


class DeviceRegistry:
    """All devices in memory, indexed by id, identifier and connection; writes go to the database
    before memory changes, one at a time (an asyncio.Lock)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        area_registry: AreaRegistry | None = None,
    ) -> None:
        """With `area_registry`, area ids are checked against it and deleting an area takes it
        off the devices here too (else call `clear_area` yourself)."""
        self._session_factory = session_factory
        self._area_registry = area_registry
        # Shared with the area and entity registries (rows refer to areas and devices): one order for all.
        self.writer = area_registry.writer if area_registry is not None else RegistryWriter(session_factory)
        self._lock = asyncio.Lock()
        # Called with Home Assistant's `device_registry_updated` data after each change (the hub fires it).
        self.change_listeners: list[Callable[[dict[str, Any]], None]] = []
        # The home's plan limit (hub.tenancy.limits): called with the count before a new device; raises to refuse.
        self.admit: Callable[[int], None] | None = None
        self._devices: dict[str, DeviceEntry] = {}
        self._by_identifier: dict[Pair, str] = {}
        self._by_connection: dict[Pair, str] = {}
        # get_or_create() arguments (as _arguments_key) -> the entry they returned.
        self._seen: dict[str, DeviceEntry] = {}
        self._remove_listeners: list[RemoveListener] = []
        if area_registry is not None:
            area_registry.add_clear_listener(self.clear_area)

    # ---- reading (memory only) ----

    async def load(self) -> None:
        """Read every device from the database, replacing what is in memory."""
        async with self._lock:
            async with self._session_factory() as session:
                rows = (await session.execute(select(*_COLUMNS))).all()
            self._devices.clear()
            self._by_identifier.clear()
            self._by_connection.clear()
            for row in rows:
                self._index(_entry_from_row(row))

    def get(self, device_id: str) -> DeviceEntry | None:
        return self._devices.get(device_id)

    def get_by_identifier(self, domain: str, identifier: str) -> DeviceEntry | None:
        device_id = self._by_identifier.get((domain, identifier))
        return None if device_id is None else self._devices[device_id]

    def get_by_connection(self, kind: str, value: str) -> DeviceEntry | None:
        if kind == CONNECTION_MAC:
            value = format_mac(value)
        device_id = self._by_connection.get((kind, value))
        return None if device_id is None else self._devices[device_id]

    @property
    def devices(self) -> ValuesView[DeviceEntry]:
        return self._devices.values()

    def __len__(self) -> int:
        return len(self._devices)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._devices

    def __iter__(self) -> Iterator[DeviceEntry]:
        return iter(self._devices.values())

    def add_remove_listener(self, listener: RemoveListener) -> Callable[[], None]:
        """Call `listener(device_id)` (sync or async) after a device is removed.

        Returns a function that unsubscribes it.
        """
        self._remove_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._remove_listeners:
                self._remove_listeners.remove(listener)

        return unsubscribe

    # ---- writing ----

    async def get_or_create(
        self,
        *,
        integration: str,
        identifiers: Iterable[Iterable[str]] = (),
        connections: Iterable[Iterable[str]] = (),
        name: str | None | UndefinedType = UNDEFINED,
        manufacturer: str | None | UndefinedType = UNDEFINED,
        model: str | None | UndefinedType = UNDEFINED,
        model_id: str | None | UndefinedType = UNDEFINED,
        sw_version: str | None | UndefinedType = UNDEFINED,
        hw_version: str | None | UndefinedType = UNDEFINED,
        serial_number: str | None | UndefinedType = UNDEFINED,
        suggested_area: str | None | UndefinedType = UNDEFINED,
        configuration_url: str | None | UndefinedType = UNDEFINED,
        via_device: Iterable[str] | None | UndefinedType = UNDEFINED,
    ) -> DeviceEntry:
        """The device with any of these identifiers or connections, created if there is none.

        An existing device keeps its id, integration, name_by_user, area and disabled_by; its
        identifiers and connections are merged with the given ones, and every other argument
        that is passed (None included) replaces the stored value. Arguments not passed keep
        theirs. `via_device` is the (domain, id) identifier of the parent device, stored as
        `via_device_id` (None when that device is not registered).
        """
        # The same arguments again (the next entity of a device), and the entry they gave is
        # unchanged since: applying them again would change nothing.
        seen_key = (
            _arguments_key(integration, identifiers, connections, name, manufacturer, model, model_id, sw_version,
                           hw_version, serial_number, suggested_area, configuration_url)
            if via_device is UNDEFINED  # the parent may have been registered since
            else None
        )
        if seen_key is not None:
            seen = self._seen.get(seen_key)
            if seen is not None and self._devices.get(seen.id) is seen:
                return seen
        entry = await self._get_or_create(integration, identifiers, connections, via_device, {
            "name": name, "manufacturer": manufacturer, "model": model, "model_id": model_id,
            "sw_version": sw_version, "hw_version": hw_version, "serial_number": serial_number,
            "suggested_area": suggested_area, "configuration_url": configuration_url})
        if seen_key is not None:
            if len(self._seen) >= _SEEN_LIMIT:
                self._seen.clear()
            self._seen[seen_key] = entry
        return entry

    async def _get_or_create(self, integration: str, identifiers: Iterable[Iterable[str]],
                             connections: Iterable[Iterable[str]], via_device: Iterable[str] | None | UndefinedType,
                             fields: dict[str, Any]) -> DeviceEntry:
        ids = _pairs(identifiers, "identifiers")
        conns = _connections(connections)
        if not ids and not conns:
            raise RegistryError("A device needs at least one identifier or connection")
        if not integration:
            raise RegistryError("A device needs an integration")

        given: dict[str, Any] = {key: value for key, value in fields.items() if value is not UNDEFINED}

        async with self._lock:
            if via_device is not UNDEFINED:
                via_id: str | None = None
                if via_device is not None:
                    (via_domain, via_identifier), = _pairs([via_device], "via_device")
                    via = self.get_by_identifier(via_domain, via_identifier)
                    via_id = via.id if via is not None else None
                given["via_device_id"] = via_id

            existing = self._find(ids, conns)
            now = utcnow()
            if existing is None:
                if self.admit is not None:
                    self.admit(len(self._devices))
                entry = DeviceEntry(
                    id=new_ulid(),
                    integration=integration,
                    identifiers=ids,
                    connections=conns,
                    name=given.get("name"),
                    name_by_user=None,
                    manufacturer=given.get("manufacturer"),
                    model=given.get("model"),
                    model_id=given.get("model_id"),
                    sw_version=given.get("sw_version"),
                    hw_version=given.get("hw_version"),
                    serial_number=given.get("serial_number"),
                    suggested_area=given.get("suggested_area"),
                    area_id=None,
                    configuration_url=given.get("configuration_url"),
                    via_device_id=given.get("via_device_id"),
                    disabled_by=None,
                    created_at=now,
                    modified_at=now,
                )
                self._check_free(entry)
                await self._write(_INSERT, _row_values(entry))
                self._index(entry)
                self._changed({"action": "create", "device_id": entry.id})
                return entry

            if given.get("via_device_id") == existing.id:
                given["via_device_id"] = None  # a device cannot be its own parent
            changes = {key: value for key, value in given.items() if getattr(existing, key) != value}
            if not ids <= existing.identifiers:
                changes["identifiers"] = existing.identifiers | ids
            if not conns <= existing.connections:
                changes["connections"] = existing.connections | conns
            return await self._apply(existing, changes, now)

    async def update(self, device_id: str, **changes: Any) -> DeviceEntry:
        """Change fields of a device: name_by_user, area_id, location, disabled_by, name, manufacturer,
        model, model_id, sw_version, hw_version, serial_number, suggested_area,
        configuration_url, via_device_id, integration, identifiers, connections (replaced)."""
        unknown = set(changes) - _UPDATABLE - {"identifiers", "connections"}
        if unknown:
            raise TypeError(f"DeviceRegistry.update() got unknown fields: {', '.join(sorted(unknown))}")
        async with self._lock:
            existing = self._devices.get(device_id)
            if existing is None:
                raise DeviceNotFoundError(f"Device {device_id} not found")
            if "identifiers" in changes:
                changes["identifiers"] = _pairs(changes["identifiers"], "identifiers")
            if "connections" in changes:
                changes["connections"] = _connections(changes["connections"])
            if "area_id" in changes and self._area_registry is not None:
                self._area_registry.check(changes["area_id"])
            via_id = changes.get("via_device_id")
            if via_id is not None and (via_id == device_id or via_id not in self._devices):
                raise DeviceNotFoundError(f"via_device_id {via_id} is not another registered device")
            changes = {key: value for key, value in changes.items() if getattr(existing, key) != value}
            return await self._apply(existing, changes, utcnow())

    async def remove(self, device_id: str) -> None:
        """Remove a device; devices that named it as via_device and entities on it keep no link."""
        async with self._lock:
            entry = self._devices.get(device_id)
            if entry is None:
                raise DeviceNotFoundError(f"Device {device_id} not found")
            await self.writer.flush()  # queued writes (a batch of another task) go first
            async with self._session_factory() as session, session.begin():
                # The foreign keys do this too (ON DELETE SET NULL); be explicit for
                # connections where SQLite's foreign key enforcement is off.
                await session.execute(
                    update(DEVICES).where(DEVICES.c.via_device_id == device_id).values(via_device_id=None)
                )
                await session.execute(delete(DEVICES).where(DEVICES.c.id == device_id))
            self._unindex(entry)
            for child in [d for d in self._devices.values() if d.via_device_id == device_id]:
                self._devices[child.id] = dataclasses.replace(child, via_device_id=None)
            listeners = list(self._remove_listeners)
        for listener in listeners:
            try:
                result = listener(device_id)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                _LOGGER.exception("Error in device remove listener for %s", device_id)
        self._changed({"action": "remove", "device_id": device_id})

    async def clear_area(self, area_id: str) -> None:
        """Take `area_id` off every device that has it (before that area is deleted)."""
        async with self._lock:
            now = utcnow()
            await self._write(
                update(DEVICES).where(DEVICES.c.area_id == area_id).values(area_id=None, modified_at=now)
            )
            for entry in [d for d in self._devices.values() if d.area_id == area_id]:
                self._devices[entry.id] = dataclasses.replace(entry, area_id=None, modified_at=now)

    # ---- internals ----

    def _find(self, ids: frozenset[Pair], conns: frozenset[Pair]) -> DeviceEntry | None:
        found: set[str] = set()
        for pair in sorted(ids):
            if (device_id := self._by_identifier.get(pair)) is not None:
                found.add(device_id)
        for pair in sorted(conns):
            if (device_id := self._by_connection.get(pair)) is not None:
                found.add(device_id)
        if not found:
            return None
        if len(found) > 1:
            raise IdentifierInUseError(
                f"Identifiers {sorted(ids)} and connections {sorted(conns)} belong to "
                f"different devices: {', '.join(sorted(found))}"
            )
        return self._devices[found.pop()]

    def _check_free(self, entry: DeviceEntry) -> None:
        for pair in entry.identifiers:
            owner = self._by_identifier.get(pair)
            if owner is not None and owner != entry.id:
                raise IdentifierInUseError(f"Identifier {pair} belongs to device {owner}")
        for pair in entry.connections:
            owner = self._by_connection.get(pair)
            if owner is not None and owner != entry.id:
                raise IdentifierInUseError(f"Connection {pair} belongs to device {owner}")

    async def _apply(self, existing: DeviceEntry, changes: dict[str, Any], now: datetime) -> DeviceEntry:
        if not changes:
            return existing
        entry = dataclasses.replace(existing, **changes, modified_at=now)
        self._check_free(entry)
        values = {key: getattr(entry, key) for key in changes}
        if "identifiers" in values:
            values["identifiers"] = _to_json(entry.identifiers)
        if "connections" in values:
            values["connections"] = _to_json(entry.connections)
        values["modified_at"] = now
        await self._write(update(DEVICES).where(DEVICES.c.id == entry.id).values(**values))
        self._unindex(existing)
        self._index(entry)
        old = {key: getattr(existing, key) for key in changes}
        for key in ("identifiers", "connections"):  # sets of pairs: lists of lists in the event, as HA
            if key in old:
                old[key] = sorted([list(pair) for pair in old[key]])
        self._changed({"action": "update", "device_id": entry.id, "changes": old})
        return entry

    def _changed(self, data: dict[str, Any]) -> None:
        for listener in self.change_listeners:
            listener(data)

    async def _write(self, statement: Any, params: dict[str, Any] | None = None) -> None:
        await self.writer.write(statement, params, "Device")

    def _index(self, entry: DeviceEntry) -> None:
        self._devices[entry.id] = entry
        for pair in entry.identifiers:
            self._by_identifier[pair] = entry.id
        for pair in entry.connections:
            self._by_connection[pair] = entry.id

    def _unindex(self, entry: DeviceEntry) -> None:
        self._devices.pop(entry.id, None)
        for pair in entry.identifiers:
            if self._by_identifier.get(pair) == entry.id:
                del self._by_identifier[pair]
        for pair in entry.connections:
            if self._by_connection.get(pair) == entry.id:
                del self._by_connection[pair]


def _undefined_json(value: Any) -> str:
    if value is UNDEFINED:
        return "\x00undefined"
    raise TypeError


def _arguments_key(*arguments: Any) -> str | None:
    """get_or_create()'s arguments as a key (None when they are not JSON: not remembered).

    A str, decoded from orjson's bytes: a kept orjson result costs ~4 KiB of memory while it
    lives (its buffer's capacity), a copy what it holds.
    """
    try:
        return orjson.dumps(arguments, default=_undefined_json, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return None


__all__ = ["CONNECTION_MAC", "DeviceEntry", "DeviceRegistry", "format_mac"]
