"""The EasySmart-style adapter at work: MQTT messages in, entities and history out, commands out.

Handlers run inline in the event loop (the MQTT runtime API's rule) and never raise: a bad
payload is logged at most once a minute per device and topic kind, naming the topic and the
field, and changes nothing. Entities are added in a task; values that arrive meanwhile wait
(the last one per entity) and are applied once the entities exist.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

from hub.reading_time import Skew, own_time
from integrations.easysmart.entities import DeviceEntity, build
from integrations.easysmart.protocol import (
    ENTITY_ID,
    ID,
    DeviceSpec,
    EntitySpec,
    PayloadError,
    Topics,
    parse_discovery,
    parse_status,
    parse_value,
    to_bool,
    to_float,
)

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.mqtt.runtime_api import Message, MqttApi

_LOGGER = logging.getLogger(__name__)
PLATFORM = "easysmart"
WARNING_INTERVAL = 60.0
MAX_FIELDS = 64
MAX_PENDING = 64


@dataclass
class Device:
    """A device the adapter knows: its announcement, entities, and what waits for them."""

    spec: DeviceSpec
    """What the device announced, plus a sensor for each telemetry field it did not announce."""
    announced: DeviceSpec | None = None
    """The last discovery as received."""
    extra: tuple[EntitySpec, ...] = ()
    """Sensors made for telemetry fields the device did not announce."""
    entities: dict[str, DeviceEntity] = field(default_factory=dict)
    online: bool = True
    ready: bool = False
    announcing: int = 0
    """Announcements received whose entities are not built yet (values wait meanwhile)."""
    pending: dict[str, tuple[Any, float]] = field(default_factory=dict)
    """Entity key -> (value, time) that came before the entity existed."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Adapter:
    """Subscribes to one root's device topics and keeps the devices' entities."""

    def __init__(self, hub: Hub, mqtt: MqttApi, topics: Topics, skew: Skew) -> None:
        self.hub = hub
        self.mqtt = mqtt
        self.topics = topics
        self.skew = skew
        self.devices: dict[str, Device] = {}
        self._warned: dict[tuple[str, str], float] = {}

    def subscribe(self) -> list[Any]:
        """Subscribe to every topic the devices send on; return the undos."""
        return [
            self.mqtt.subscribe(self.topics.discovery(), self.on_discovery, qos=0),
            self.mqtt.subscribe(self.topics.status(), self.on_status, qos=1),
            self.mqtt.subscribe(self.topics.state(), self.on_state, qos=1),
            self.mqtt.subscribe(self.topics.telemetry(), self.on_telemetry, qos=1),
        ]

    # ---- device -> hub ----

    def on_discovery(self, message: Message) -> None:
        """A device announced itself (or was removed, by an empty retained payload)."""
        parts = self.topics.parts(message.topic)
        if parts is None or len(parts) != 2:
            return
        device_id = parts[0]
        if not ID.match(device_id):
            self.warn(device_id[:64], "discovery", f"Ignored the discovery on {message.topic}: a device id is 1-64 "
                      "letters, digits, _ or -")
            return
        if not message.payload:
            if device_id in self.devices:
                self.hub.create_task(self._remove(device_id), f"easysmart: remove {device_id}")
            return
        try:
            spec = parse_discovery(device_id, message.payload)
        except PayloadError as err:
            self.warn(device_id, "discovery", f"Ignored the discovery of {device_id} on {message.topic}: {err}")
            return
        known = self.devices.get(device_id)
        if known is None:
            # Known from now on: the retained states that follow the discovery wait for the entities.
            known = self.devices[device_id] = Device(spec, announced=spec)
        elif known.announced == spec:
            return
        else:
            known.announced, known.ready = spec, False  # what comes next waits for the new entities
        known.announcing += 1
        self.hub.create_task(self._announce(spec), f"easysmart: discover {device_id}")

    def on_status(self, message: Message) -> None:
        """online/offline: the device's entities become available or unavailable."""
        parts = self.topics.parts(message.topic)
        device = self.devices.get(parts[0]) if parts is not None and len(parts) == 2 else None
        if device is None:
            return
        try:
            online = parse_status(message.payload)
        except PayloadError as err:
            self.warn(device.spec.device_id, "status", f"Ignored a status of {device.spec.device_id} on {message.topic}: {err}")
            return
        device.online = online
        for entity in device.entities.values():
            if entity.available != online:
                entity.available = online
                entity.write_state()

    def on_state(self, message: Message) -> None:
        """A value of one entity: a bare value or {"value", "ts"}."""
        parts = self.topics.parts(message.topic)
        device = self.devices.get(parts[0]) if parts is not None and len(parts) == 3 else None
        if device is None or parts is None:
            return  # not an EasySmart device (our nodes share the devices/ tree)
        key = parts[1]
        try:
            value, stamp = parse_value(message.payload)
        except PayloadError as err:
            self.warn(device.spec.device_id, "state", f"Ignored a state on {message.topic}: {err}")
            return
        when = self._when(device.spec.device_id, message.topic, stamp)
        entity = device.entities.get(key)
        if entity is not None and device.ready:
            self._apply(device, entity, value, when, message.topic)
        elif _announces(device, key):
            self._wait(device, key, value, when)
        else:
            self.warn(device.spec.device_id, f"state:{key}",
                      f"Ignored a state on {message.topic}: {device.spec.device_id} announced no entity {key!r}")

    def on_telemetry(self, message: Message) -> None:
        """A reading of many fields ({"ts", field: value ...}) or a batch ({"readings": [...]})."""
        parts = self.topics.parts(message.topic)
        device = self.devices.get(parts[0]) if parts is not None and len(parts) == 2 else None
        if device is None:
            return
        device_id = device.spec.device_id
        try:
            data = orjson.loads(message.payload)
        except orjson.JSONDecodeError as err:
            self.warn(device_id, "telemetry", f"Ignored telemetry of {device_id} on {message.topic}: not JSON: {err}")
            return
        if not isinstance(data, dict):
            self.warn(device_id, "telemetry", f"Ignored telemetry of {device_id} on {message.topic}: expected a JSON object")
            return
        dropped: dict[str, str] = {}
        if isinstance(data.get("readings"), list):
            self._batch(device, data["readings"], dropped, message.topic)
        else:
            found = own_time(data)
            when = self._when(device_id, message.topic, found[1] if found else None)
            for name, value in data.items():
                if name in ("ts", "timestamp", "node_id", "device_id"):
                    continue
                entity = self._field_entity(device, name, value, dropped)
                if entity is None:
                    if name not in dropped:
                        self._wait(device, name, value, when)
                    continue
                self._apply(device, entity, value, when, message.topic, dropped=dropped, field_name=name)
        if dropped:
            self.warn(device_id, "dropped", f"Telemetry of {device_id} on {message.topic}: dropped fields "
                      + "; ".join(f"{name} ({why})" for name, why in sorted(dropped.items())))

    # ---- hub -> device ----

    async def send(self, device_id: str, entity: str, payload: str) -> None:
        """Publish a command on the entity's set topic (QoS 1: returns once the broker has it)."""
        await self.mqtt.publish(self.topics.set(device_id, entity), payload, qos=1)

    # ---- inside ----

    def _when(self, device_id: str, topic: str, stamp: Any) -> float:
        received = self.hub.clock.time()
        if stamp is None:
            return received
        when, problem = self.skew.when(stamp, received)
        if problem is not None:
            self.warn(device_id, "time", f"Reading on {topic} taken at the time it was received: its time {problem}")
        return when

    def _apply(self, device: Device, entity: DeviceEntity, value: Any, when: float, topic: str, *,
               dropped: dict[str, str] | None = None, field_name: str | None = None) -> None:
        if entity.reading_time is not None and when < entity.reading_time:
            # Older than what the entity shows: history only, the live state stays.
            stored = history_value(entity.spec.kind, value)
            if stored is None:
                self._refuse(device, entity, value, topic, dropped, field_name)
                return
            self.hub.create_task(self._backfill(str(entity.entity_id), [(when, stored)]))
            return
        if not entity.take(value):
            self._refuse(device, entity, value, topic, dropped, field_name)
            return
        entity.available = device.online
        entity.reading_time = when
        entity.write_at(when)

    def _refuse(self, device: Device, entity: DeviceEntity, value: Any, topic: str,
                dropped: dict[str, str] | None, field_name: str | None) -> None:
        why = f"{value!r} is not a value of a {entity.spec.kind}"
        if dropped is not None and field_name is not None:
            dropped[field_name] = why
        else:
            self.warn(device.spec.device_id, f"state:{entity.spec.key}", f"Ignored a state on {topic}: {why}")

    def _field_entity(self, device: Device, name: str, value: Any, dropped: dict[str, str]) -> DeviceEntity | None:
        """The entity of a telemetry field; an unannounced field gets a sensor (so nothing is lost)."""
        entity = device.entities.get(name)
        if entity is not None and device.ready:
            return entity
        if not ENTITY_ID.match(name):
            dropped[name] = "not a field name (lowercase letters, digits and _)"
            return None
        if value is None or isinstance(value, dict | list):
            dropped[name] = "null, a list or an object"
            return None
        if _announces(device, name):
            return None  # announced, its entity is being added: waits
        if len(device.spec.entities) >= MAX_FIELDS:
            dropped[name] = f"the device has {MAX_FIELDS} entities already"
            return None
        spec = EntitySpec(key=name, kind="sensor", name=name.replace("_", " ").capitalize(),
                          state_class="measurement" if to_float(value) is not None else None)
        device.spec = replace(device.spec, entities=(*device.spec.entities, spec))
        device.extra = (*device.extra, spec)
        device.ready = False
        self.hub.create_task(self._add_entities(device), f"easysmart: add {device.spec.device_id} {name}")
        return None

    def _batch(self, device: Device, readings: list[Any], dropped: dict[str, str], topic: str) -> None:
        received = self.hub.clock.time()
        points: dict[str, list[tuple[float, Any]]] = {}
        outside = 0
        for index, reading in enumerate(readings):
            if not isinstance(reading, dict):
                dropped[f"readings[{index}]"] = "not an object"
                continue
            found = own_time(reading)
            when, problem = self.skew.when(found[1], received) if found else (received, "missing")
            if problem is not None:
                outside += 1
                continue
            for name, value in reading.items():
                if name in ("ts", "timestamp"):
                    continue
                entity = self._field_entity(device, name, value, dropped)
                kind = entity.spec.kind if entity is not None else "sensor"
                stored = history_value(kind, value) if name not in dropped else None
                if stored is None:
                    dropped.setdefault(name, "not a value this entity can have")
                    continue
                points.setdefault(name, []).append((when, stored))
        if outside:
            dropped[f"{outside} readings"] = (f"time missing or outside {self.skew.max_age:g} s back / "
                                             f"{self.skew.max_ahead:g} s ahead")
        if points:
            self.hub.create_task(self._write_batch(device, points), f"easysmart: batch of {device.spec.device_id}")

    async def _write_batch(self, device: Device, points: dict[str, list[tuple[float, Any]]]) -> None:
        await self._add_entities(device)  # an unannounced field's sensor first
        for name, series in points.items():
            entity = device.entities.get(name)
            if entity is not None and entity.entity_id:
                await self._backfill(entity.entity_id, series)

    async def _backfill(self, entity_id: str, points: list[tuple[float, Any]]) -> None:
        from hub.recorder import get_recorder  # noqa: PLC0415 - only when history is written

        recorder = get_recorder(self.hub)
        if recorder is None:
            self.warn(entity_id, "recorder", f"Readings of {entity_id} for its history were dropped: the recorder is not running")
            return
        await recorder.backfill(entity_id, points)

    def _wait(self, device: Device, key: str, value: Any, when: float) -> None:
        if key in device.pending or len(device.pending) < MAX_PENDING:
            device.pending[key] = (value, when)

    async def _announce(self, spec: DeviceSpec) -> None:
        device = self.devices.get(spec.device_id)
        if device is None:
            return  # removed (an empty discovery) before its entities were added
        async with device.lock:
            latest = device.announced or spec  # two announcements in a row: the later one counts
            # Sensors made for unannounced telemetry fields stay, unless the device now announces the field.
            device.extra = tuple(s for s in device.extra if all(a.key != s.key for a in latest.entities))
            full = replace(latest, entities=(*latest.entities, *device.extra))
            wanted = {s.key: s for s in full.entities}
            for key in list(device.entities):
                entity = device.entities[key]
                if wanted.get(key) != entity.spec or _about(entity.device_spec) != _about(full):
                    del device.entities[key]  # gone, or changed: built again below
                    if entity.entity_id:
                        await self.hub.entities.remove(entity.entity_id)
            device.spec = full
            device.announcing -= 1
        await self._add_entities(device)

    async def _add_entities(self, device: Device) -> None:
        async with device.lock:  # one task adds a device's entities at a time
            # The announcement may grow while an entity is added (a new telemetry field): add until none is missing.
            while missing := [s for s in device.spec.entities if s.key not in device.entities]:
                for spec in missing:
                    entity = build(device.spec, spec, self)
                    entity.available = device.online
                    await self.hub.entities.add(entity, PLATFORM)
                    device.entities[spec.key] = entity
            device.ready = device.announcing == 0
            if not device.ready:
                return  # the announcement being built applies what waits
            waiting = {key: device.pending.pop(key) for key in list(device.pending) if key in device.entities}
        for key, (value, when) in waiting.items():
            self._apply(device, device.entities[key], value, when, self.topics.state(device.spec.device_id, key))

    async def _remove(self, device_id: str) -> None:
        device = self.devices.pop(device_id, None)
        for entity in (device.entities.values() if device else ()):
            if entity.entity_id:
                await self.hub.entities.remove(entity.entity_id)

    def warn(self, device_id: str, kind: str, text: str) -> None:
        """Log a warning at most once a minute per device and kind of problem."""
        now = self.hub.clock.time()
        key = (device_id, kind)
        if now - self._warned.get(key, -WARNING_INTERVAL) < WARNING_INTERVAL:
            return
        if len(self._warned) > 10_000:  # bounded: a flood of device ids cannot grow it for ever
            self._warned.clear()
        self._warned[key] = now
        _LOGGER.warning("%s", text)


def _announces(device: Device, key: str) -> bool:
    """Whether the device has (or is getting) an entity for key."""
    return any(s.key == key for s in device.spec.entities) or (
        device.announced is not None and any(s.key == key for s in device.announced.entities))


def _about(spec: DeviceSpec) -> tuple[Any, ...]:
    """What the device registry shows of a device (a change rebuilds its entities)."""
    return spec.name, spec.manufacturer, spec.model, spec.firmware, spec.hardware


def history_value(kind: str, value: Any) -> float | str | None:
    """A value as history stores it (a number, or on/off, or text), or None when it is none of these."""
    if kind in ("switch", "binary_sensor"):
        state = to_bool(value)
        return None if state is None else ("on" if state else "off")
    number = to_float(value)
    if number is not None:
        return number
    if kind == "number" or value is None or isinstance(value, dict | list | bool):
        return None
    text = str(value)
    return text if len(text) <= 255 else None

