"""States in templates: `states`, `states.domain.object`, is_state, expand and the registry lookups.

Every read records the entity (or domain) in the current RenderInfo, so whoever rendered the
template knows which state changes can change its result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN, State, valid_entity_id
from hub.exceptions import TemplateError
from hub.templating.render_info import current_render_info

if TYPE_CHECKING:
    from hub.core.hub import Hub

_VALID_DOMAIN = re.compile(r"^(?!.+__)[\da-z_]+(?<!_)$")
_RESERVED = frozenset(
    {"contextfunction", "evalcontextfunction", "environmentfunction", "jinja_pass_arg", "unsafe_callable", "alters_data"}
)


def _collect_entity(entity_id: str) -> None:
    info = current_render_info.get()
    if info is not None:
        info.entities.add(entity_id)


class TemplateState:
    """A State seen from a template; reading it records the entity."""

    __slots__ = ("_hub", "_state", "_collect")

    def __init__(self, hub: Hub | None, state: State, collect: bool = True) -> None:
        self._hub = hub
        self._state = state
        self._collect = collect

    def _access(self) -> State:
        if self._collect:
            _collect_entity(self._state.entity_id)
        return self._state

    @property
    def entity_id(self) -> str:
        """The entity_id (reading it records nothing, as in Home Assistant)."""
        return self._state.entity_id

    @property
    def state(self) -> str:
        """The state string."""
        return self._access().state

    @property
    def attributes(self) -> Any:
        """The attributes mapping."""
        return self._access().attributes

    @property
    def last_changed(self) -> Any:
        """When the state value changed."""
        return self._access().last_changed

    @property
    def last_updated(self) -> Any:
        """When the state or an attribute changed."""
        return self._access().last_updated

    @property
    def last_reported(self) -> Any:
        """When the entity last wrote its state."""
        return self._access().last_reported

    @property
    def context(self) -> Any:
        """Why the state changed."""
        return self._access().context

    @property
    def domain(self) -> str:
        """The domain."""
        return self._access().domain

    @property
    def object_id(self) -> str:
        """The object_id."""
        return self._access().object_id

    @property
    def name(self) -> str:
        """The friendly name."""
        return self._access().name

    @property
    def state_with_unit(self) -> str:
        """The state followed by its unit of measurement, if any."""
        state = self._access()
        unit = state.attributes.get("unit_of_measurement")
        return f"{state.state} {unit}" if unit else state.state

    def __getitem__(self, item: str) -> Any:
        if item in (
            "entity_id", "state", "attributes", "last_changed", "last_updated", "last_reported",
            "context", "domain", "object_id", "name", "state_with_unit",
        ):
            return getattr(self, item)
        message = f"Unknown key {item}"
        raise KeyError(message)

    def as_dict(self) -> dict[str, Any]:
        """The state as Home Assistant serialises it."""
        return self._access().as_dict()

    def __eq__(self, other: object) -> bool:
        # Comparing reads the state (as in Home Assistant); merely testing it (`if states.x.y`) does not.
        state = self._access()
        if isinstance(other, TemplateState):
            return state == other._state
        return isinstance(other, State) and state == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<template TemplateState({self._access()!r})>"


def find_state(hub: Hub | None, entity_id: Any, validate: bool = False) -> State | None:
    """Return the State of entity_id, or None; a missing entity's id is recorded as read.

    An existing state is recorded only when something of it is read (as Home Assistant does:
    `{% if states.sensor.x %}` alone listens to nothing while the sensor exists).

    Raises:
        TemplateError: validate is set and entity_id is missing and not a valid entity id.
    """
    if isinstance(entity_id, TemplateState):
        entity_id = entity_id.entity_id
    if not isinstance(entity_id, str):
        return None
    state = hub.states.get(entity_id) if hub is not None else None
    if state is None:
        if validate and not valid_entity_id(entity_id):
            message = f"Invalid entity ID '{entity_id}'"
            raise TemplateError(message)
        _collect_entity(entity_id)
    return state


def get_state(hub: Hub | None, entity_id: Any) -> State | None:
    """Return the State of entity_id, or None, recording the read."""
    state = find_state(hub, entity_id)
    if state is not None:
        _collect_entity(state.entity_id)
    return state


def _template_state(hub: Hub | None, entity_id: str) -> TemplateState | None:
    state = find_state(hub, entity_id, validate=True)
    return TemplateState(hub, state) if state is not None else None


class DomainStates:
    """`states.<domain>`: attribute access gives one entity, iteration all of them."""

    __slots__ = ("_hub", "_domain")

    def __init__(self, hub: Hub | None, domain: str) -> None:
        self._hub = hub
        self._domain = domain

    def __getattr__(self, name: str) -> TemplateState | None:
        if name.startswith("_") or name in _RESERVED:
            return None
        return _template_state(self._hub, f"{self._domain}.{name}")

    __getitem__ = __getattr__

    def __iter__(self) -> Iterator[TemplateState]:
        info = current_render_info.get()
        if info is not None:
            info.domains.add(self._domain)
        states = self._hub.states.all(self._domain) if self._hub is not None else []
        for state in sorted(states, key=lambda s: s.entity_id):
            yield TemplateState(self._hub, state, collect=False)

    def __len__(self) -> int:
        info = current_render_info.get()
        if info is not None:
            info.domains_lifecycle.add(self._domain)
        return len(self._hub.states.entity_ids(self._domain)) if self._hub is not None else 0

    def __repr__(self) -> str:
        return f"<template DomainStates('{self._domain}')>"


class AllStates:
    """`states`: callable (`states('sensor.x')`), iterable, and `states.domain.object`."""

    __slots__ = ("_hub",)

    def __init__(self, hub: Hub | None) -> None:
        self._hub = hub

    def __getattr__(self, name: str) -> Any:
        if "." in name:
            return _template_state(self._hub, name)
        if name.startswith("_") or name in _RESERVED:
            return None
        if not _VALID_DOMAIN.match(name):
            message = f"Invalid domain name '{name}'"
            raise TemplateError(message)
        return DomainStates(self._hub, name)

    __getitem__ = __getattr__

    def __iter__(self) -> Iterator[TemplateState]:
        info = current_render_info.get()
        if info is not None:
            info.all_states = True
        states = self._hub.states.all() if self._hub is not None else []
        for state in sorted(states, key=lambda s: s.entity_id):
            yield TemplateState(self._hub, state, collect=False)

    def __len__(self) -> int:
        info = current_render_info.get()
        if info is not None:
            info.all_states_lifecycle = True
        return len(self._hub.states) if self._hub is not None else 0

    def __call__(self, entity_id: Any, rounded: Any = None, with_unit: bool = False) -> str:
        state = get_state(self._hub, entity_id)
        if state is None:
            return STATE_UNKNOWN
        value = state.state
        if rounded is None:
            rounded = with_unit
        if rounded and state.domain == "sensor":
            # Rounded to the sensor's display precision when it has one, else as it is (HA).
            precision = state.attributes.get("suggested_display_precision")
            if precision is not None:
                try:
                    value = f"{float(value):z.{int(precision)}f}"
                except (ValueError, TypeError):
                    pass
        if with_unit and (unit := state.attributes.get("unit_of_measurement")):
            value = f"{value} {unit}"
        return value

    def __repr__(self) -> str:
        return "<template AllStates>"


class StateFunctions:
    """The hub-bound functions: is_state, state_attr, has_value, expand and registry lookups."""

    def __init__(self, hub: Hub | None) -> None:
        self._hub = hub

    def is_state(self, entity_id: Any, state: object) -> bool:
        """Whether the entity has the state (or one of a list of states)."""
        found = get_state(self._hub, entity_id)
        if found is None:
            return False
        if isinstance(state, (list, tuple, set)):
            return found.state in state
        return found.state == state

    def state_attr(self, entity_id: Any, name: str) -> Any:
        """An attribute of the entity, or None."""
        found = get_state(self._hub, entity_id)
        return found.attributes.get(name) if found is not None else None

    def is_state_attr(self, entity_id: Any, name: str, value: object) -> bool:
        """Whether the entity has the attribute and it has value (None included)."""
        found = get_state(self._hub, entity_id)
        if found is None or name not in found.attributes:
            return False
        return bool(found.attributes[name] == value)

    def has_value(self, entity_id: Any) -> bool:
        """Whether the entity exists and is neither unknown nor unavailable."""
        found = get_state(self._hub, entity_id)
        return found is not None and found.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)

    def state_translated(self, entity_id: Any) -> str:
        """The state for display (untranslated: the hub speaks one language)."""
        found = find_state(self._hub, entity_id, validate=True)
        if found is None:
            return STATE_UNKNOWN
        _collect_entity(found.entity_id)
        return found.state

    def expand(self, *args: Any) -> list[TemplateState]:
        """Entities from ids, states, lists and groups, sorted and without duplicates."""
        search: list[Any] = list(args)
        found: dict[str, State] = {}
        seen_groups: set[str] = set()
        while search:
            item = search.pop()
            if isinstance(item, str):
                state = get_state(self._hub, item)
                if state is None:
                    continue
            elif isinstance(item, TemplateState):
                state = item._state
            elif isinstance(item, State):
                state = item
            elif isinstance(item, Iterable):
                search.extend(item)
                continue
            else:
                continue
            entity_id = state.entity_id
            members = state.attributes.get("entity_id")
            if entity_id.startswith("group.") or state.attributes.get("source") == "group":
                if entity_id not in seen_groups and isinstance(members, (list, tuple)):
                    seen_groups.add(entity_id)
                    search.extend(members)
                continue
            if entity_id.startswith("zone.") and (persons := state.attributes.get("persons")):
                search.extend(persons)
                continue
            _collect_entity(entity_id)
            found[entity_id] = state
        return [TemplateState(self._hub, found[key]) for key in sorted(found)]

    def device_entities(self, device_id: str) -> list[str]:
        """The entity_ids of a device's entities."""
        registry = self._hub.entity_registry if self._hub is not None else None
        if registry is None or not isinstance(device_id, str):
            return []
        return [entry.entity_id for entry in registry.entries_for_device(device_id)]

    def _device(self, device_or_entity_id: str) -> Any:
        hub = self._hub
        if hub is None or hub.device_registry is None or not isinstance(device_or_entity_id, str):
            return None
        device_id = device_or_entity_id
        if "." in device_or_entity_id:
            device_id = self.device_id(device_or_entity_id) or ""
        return hub.device_registry.get(device_id)

    def device_attr(self, device_or_entity_id: str, attr_name: str) -> Any:
        """An attribute of a device (name, model, manufacturer...), or None."""
        device = self._device(device_or_entity_id)
        if device is None or attr_name.startswith("_"):
            return None
        value = getattr(device, attr_name, None)
        return value() if callable(value) else value

    def is_device_attr(self, device_or_entity_id: str, attr_name: str, attr_value: object) -> bool:
        """Whether a device's attribute has the value."""
        value: object = self.device_attr(device_or_entity_id, attr_name)
        return value == attr_value

    def device_id(self, entity_id_or_device_name: str) -> str | None:
        """The device of an entity, or the id of the device with that name."""
        hub = self._hub
        if hub is None or not isinstance(entity_id_or_device_name, str):
            return None
        if hub.entity_registry is not None:
            entry = hub.entity_registry.get(entity_id_or_device_name)
            if entry is not None:
                return entry.device_id
        if hub.device_registry is not None:
            for device in hub.device_registry:
                if entity_id_or_device_name in (device.name, device.name_by_user):
                    return device.id
        return None

    def integration_entities(self, integration: str) -> list[str]:
        """The entity_ids an integration provides."""
        registry = self._hub.entity_registry if self._hub is not None else None
        if registry is None:
            return []
        return [entry.entity_id for entry in registry if entry.platform == integration]
