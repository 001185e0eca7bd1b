"""The meters energy reports cover: those counted now, and those seen before and gone since.

A meter's device may be replaced or removed in the middle of a month; the energy it counted
until then is still on the bill. So every meter seen is remembered in the energy store
(`meter:<entity_id>`: its name, unit and device), and a report includes a remembered meter
whose entity no longer exists, as long as it would still be counted (every energy sensor is,
unless `meters:` lists them and no longer lists it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from integrations.energy.cycles import meter_unit
from integrations.energy.usage import MeterSpec

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.core.states import State
    from integrations.energy.accounting import EnergyManager, Source
    from integrations.energy.tariff import Tariff

STORE_PREFIX = "meter:"


@dataclass(frozen=True, slots=True)
class Meter:
    """A meter as reports show it: its names, its device and how to read it."""

    entity_id: str
    name: str
    device_id: str | None
    device_name: str | None
    spec: MeterSpec
    present: bool = True  # False: its entity is gone (device replaced or removed)


def meters(hub: Hub, manager: EnergyManager) -> dict[str, Meter]:
    """Return every meter a report covers, by entity_id (remembering the new ones)."""
    candidates: dict[str, Source | None] = {s.entity_id: s for s in manager.sources.values() if s.is_meter}
    if manager.auto:
        from integrations.energy.accounting import is_energy_meter

        for found in hub.states.all():
            if found.entity_id not in candidates and is_energy_meter(found):
                candidates[found.entity_id] = manager.classify(found.entity_id, found)
    for entity_id in manager.meter_config:
        if entity_id not in candidates:
            candidates[entity_id] = manager.classify(entity_id, hub.states.get(entity_id))
    out: dict[str, Meter] = {}
    for entity_id, source in candidates.items():
        if source is None:
            continue
        state = hub.states.get(entity_id)
        remembered = manager.store.values.get(STORE_PREFIX + entity_id, {})
        if state is None and not remembered:
            continue  # configured but never seen: nothing to report
        unit = state.attributes.get("unit_of_measurement") if state is not None else remembered.get("unit")
        if state is not None:
            remembered = remember(hub, manager, entity_id, state)
        meter = _meter(entity_id, remembered.get("name") or entity_id, remembered.get("device_id"),
                       remembered.get("device_name"), unit, manager.meter_terms(entity_id), state is not None)
        if meter is not None:
            out[entity_id] = meter
    for key, saved in list(manager.store.values.items()):
        entity_id = key[len(STORE_PREFIX):]
        if not key.startswith(STORE_PREFIX) or entity_id in out or hub.states.get(entity_id) is not None:
            continue
        if not manager.auto and entity_id not in manager.meter_config:
            continue
        meter = _meter(entity_id, saved.get("name") or entity_id, saved.get("device_id"), saved.get("device_name"),
                       saved.get("unit"), manager.meter_terms(entity_id), False)
        if meter is not None:
            out[entity_id] = meter
    return out


def remember(hub: Hub, manager: EnergyManager, entity_id: str, state: State) -> dict[str, Any]:
    """Remember a meter's name, unit and device in the energy store; return what is remembered."""
    key = STORE_PREFIX + entity_id
    remembered = manager.store.values.get(key, {})
    device_id, device_name = _device(hub, entity_id)
    seen = {
        "name": state.attributes.get("friendly_name") or remembered.get("name") or entity_id,
        "unit": state.attributes.get("unit_of_measurement"),
        "device_id": device_id or remembered.get("device_id"),
        "device_name": device_name or remembered.get("device_name"),
    }
    if seen != remembered:
        manager.store.put(key, seen)
    return seen


def _meter(entity_id: str, name: str, device_id: str | None, device_name: str | None, unit: str | None,
           terms: tuple[str, Tariff | None, Tariff | None], present: bool) -> Meter | None:
    found = meter_unit(unit)
    if found is None:
        return None
    kind, factor = found
    flow, tariff, return_tariff = terms
    spec = MeterSpec(factor, tariff, flow, kind, return_tariff)
    return Meter(entity_id, name, device_id, device_name, spec, present)


def _device(hub: Hub, entity_id: str) -> tuple[str | None, str | None]:
    """Return the id and display name of an entity's device, when it has one."""
    entity: Any = hub.entities.get(entity_id)
    device_id = getattr(entity, "device_id", None)
    if device_id is None and hub.entity_registry is not None:
        device_id = getattr(hub.entity_registry.get(entity_id), "device_id", None)
    if device_id is None:
        return None, None
    device = hub.device_registry.get(device_id) if hub.device_registry is not None else None
    return str(device_id), (device.display_name if device is not None else None)
