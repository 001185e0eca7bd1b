"""MQTT discovery: config topics in, entities created, updated in place, or removed.

Messages are queued by the subscription callback and handled in order by one worker task,
which yields to the loop between items, so a storm of retained configs never blocks the hub.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import deque
from contextlib import AbstractAsyncContextManager, nullcontext, suppress
from typing import TYPE_CHECKING, Any

import orjson
import voluptuous as vol

from hub import payload_json
from hub.core.entities import DEVICE_INFO_KEYS
from hub.exceptions import HubError, TemplateError
from hub.ops import allocator
from hub.registry.util import RegistryError
from hub.tenancy import limits
from hub.tenancy.limits import PlanLimitError
from integrations.mqtt import device_trigger, tag_scanner
from integrations.mqtt.abbreviations import (
    ABBREVIATIONS,
    SHARED_OPTIONS,
    expand_base_topic,
    expand_component,
    expand_device,
    expand_origin,
)
from integrations.mqtt.controls import MqttButton, MqttLight, MqttNumber, MqttSelect, MqttSwitch, MqttText
from integrations.mqtt.entity import DOMAIN, MqttEntity
from integrations.mqtt.resync import DiscoveryResync
from integrations.mqtt.schemas import DEVICE_DISCOVERY_SCHEMA, SCHEMAS, humanize, valid_device
from integrations.mqtt.sensors import MqttBinarySensor, MqttSensor
from integrations.mqtt.subscriptions import Message

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.mqtt.cache import DiscoveryStore
    from integrations.mqtt.client import MqttClient

_LOGGER = logging.getLogger(__name__)

EVENT_DISCOVERY_ERROR = "mqtt_discovery_error"
COMPONENTS: dict[str, type[MqttEntity]] = {
    "sensor": MqttSensor,
    "binary_sensor": MqttBinarySensor,
    "switch": MqttSwitch,
    "number": MqttNumber,
    "select": MqttSelect,
    "text": MqttText,
    "button": MqttButton,
    "light": MqttLight,
}
# Discovery components that are not entities (handled by their own module).
NON_ENTITY_COMPONENTS = ("device_automation", "tag")
TOPIC_PATTERN = re.compile(r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config")
_YIELD_EVERY = 25
_TRIM_AFTER = 500  # configs handled in a burst after which the heap is trimmed (hub.ops.allocator.trim)
_BATCH = 500  # configs whose registry writes share a transaction
_LINGER = 0.05  # seconds a storm's open batch waits for the next config before committing
# Configs a lingering batch gathers at most: its pending writes are held until the commit, and
# 500 large fuzzed configs in one transaction left the heap ~16 MB bigger (bench/payload_fuzz.py).
_LINGER_BATCH = 100

# Discovery errors warned about once per topic and reason: at most this many remembered, as a
# hash of the reason (the fuzz campaign's 5,000 configs left 2,727 with their reason texts, for
# good); cleared when full. Large enough that a campaign that size is not warned about again.
_LOGGED_LIMIT = 4096

Hash = tuple[str, str]


class DiscoveryError(HubError):
    """A discovery message that cannot be used; the message says why."""


class Discovery:
    """Turn discovery messages (from the broker or the cache) into live entities."""

    def __init__(self, hub: Hub, client: MqttClient, prefix: str, store: DiscoveryStore | None) -> None:
        self.hub = hub
        self.client = client
        self.prefix = prefix
        self.store = store
        self.entities: dict[Hash, MqttEntity] = {}
        # A digest of the last payload seen per discovery topic, to skip retained replays: the
        # payload itself lives on in the entity's config (and the cache), no need for a third copy.
        self._payloads: dict[str, bytes] = {}
        self._device_components: dict[str, set[Hash]] = {}
        # (topic, payload, from the cache, the cached config as validated: JSON or None)
        self._queue: deque[tuple[str, bytes | str, bool, str | None]] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._since_trim = 0  # messages handled since the heap was last trimmed (hub.ops.allocator.trim)
        # (topic, hash of the reason) already warned about; cleared when full (_LOGGED_LIMIT).
        self._logged: set[tuple[str, int]] = set()
        # While load_cached runs: the cached entries that could not be used (one warning for all).
        self._cache_errors: list[tuple[str, str]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._unsubscribes: list[Any] = []
        # Configs removed from the broker while the hub was away (discovery is QoS 0).
        self._resync = DiscoveryResync(client, prefix, lambda: list(self._payloads), self._removed_upstream, self._received)

    # ---- lifecycle ----

    def start(self) -> None:
        """Start the worker and subscribe to the discovery topics."""
        self._worker = self.hub.create_task(self._work(), "mqtt discovery")
        # QoS 0, as Home Assistant: the retained configs come with every (re)subscription, and a
        # broker's queue limit (1,000 messages on a stock Mosquitto) never applies to them.
        for pattern in ("+/+/config", "+/+/+/config"):
            self._unsubscribes.append(self.client.subscribe(f"{self.prefix}/{pattern}", self._received, 0))
        self._resync.start()

    async def stop(self) -> None:
        """Unsubscribe and stop the worker."""
        for undo in self._unsubscribes:
            undo()
        self._resync.stop()
        if self._worker is not None:
            self._worker.cancel()
            with suppress(asyncio.CancelledError):
                await self._worker  # its open registry batch is committed on the way out

    async def load_cached(self) -> int:
        """Recreate the entities of every cached config; return how many configs there were.

        A cached config whose validated form is still valid (same schemas) is not validated
        again. A cache that cannot be read, or rows that are not usable, are skipped with one
        warning: the broker's retained configs recreate those entities once connected.
        """
        if self.store is None:
            return 0
        try:
            cached = await self.store.load_configs()
        except Exception as err:  # noqa: BLE001 - the broker has every retained config anyway
            _LOGGER.warning("The MQTT discovery cache could not be read (%s: %s); entities come from the broker's "
                            "retained configs instead", type(err).__name__, str(err).partition("\n")[0])
            return 0
        for topic, entry in cached.items():
            self._queue.append((topic, entry.payload, True, entry.validated))
        if cached:
            self._cache_errors = []
            self._idle.clear()
            self._wakeup.set()
            await self.wait_idle()
            errors, self._cache_errors = self._cache_errors, None
            if errors:
                topic, reason = errors[0]
                _LOGGER.warning("Ignored %d unusable entries of the MQTT discovery cache (first: %s: %s); the broker's "
                                "retained configs replace them", len(errors), topic, reason)
        return len(cached)

    async def wait_idle(self) -> None:
        """Wait until every queued discovery message was handled."""
        await self._idle.wait()

    def _received(self, message: Message) -> None:
        self._resync.note(message.topic)
        self._queue.append((message.topic, message.payload, False, None))
        self._idle.clear()
        self._wakeup.set()

    def _removed_upstream(self, topic: str) -> None:
        self._queue.append((topic, b"", False, None))
        self._idle.clear()
        self._wakeup.set()

    async def _work(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                # The registry rows of up to _BATCH configs go in one transaction, not one each.
                # Retained configs arrive in bursts of a few at a time (the broker's pace, not
                # ours): the batch stays open while more keep coming within _LINGER seconds, so a
                # storm of 5,000 is ten transactions, not thousands. Entities are live at once;
                # only their registry rows wait.
                async with self._registry_batch():
                    handled = 0
                    while True:
                        handled += await self._work_chunk(_BATCH - handled)
                        if handled >= _BATCH or handled >= _LINGER_BATCH or not await self._more_within(_LINGER):
                            break
                self._since_trim += handled
            self._idle.set()
            if self._since_trim >= _TRIM_AFTER:  # a burst of configs: give back what it freed
                self._since_trim = 0
                allocator.trim()

    async def _more_within(self, seconds: float) -> bool:
        """Wait up to `seconds` for another queued message; return whether one came."""
        if self._queue:
            return True
        if self._cache_errors is not None:
            return False  # load_cached queued every cached config at once: none is on its way
        self._wakeup.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()
        except TimeoutError:
            return bool(self._queue)
        self._wakeup.clear()
        return bool(self._queue)

    async def _work_chunk(self, limit: int = _BATCH) -> int:
        """Handle up to `limit` queued messages; return how many."""
        handled = 0
        while self._queue and handled < limit:
            topic, payload, cached, validated = self._queue.popleft()
            try:
                await self._process(topic, payload, cached, validated)
            except DiscoveryError as err:
                if cached and self._cache_errors is not None:
                    self._cache_errors.append((topic, str(err)))  # the broker's copy decides
                else:
                    self._error(topic, str(err), payload, err.__cause__)
            except Exception as err:  # noqa: BLE001 - one device must never stop discovery
                _LOGGER.exception("Error processing discovery message on %s", topic)
                self._error(topic, f"internal error: {err}", payload)
            handled += 1
            if handled % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
        return handled

    def _registry_batch(self) -> AbstractAsyncContextManager[None]:
        registry = self.hub.entity_registry
        return registry.writer.batch() if registry is not None else nullcontext()

    def _error(self, topic: str, reason: str, payload: bytes | str, cause: BaseException | None = None) -> None:
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        logged = (topic, hash(reason))
        if logged not in self._logged:
            if len(self._logged) >= _LOGGED_LIMIT:
                self._logged.clear()  # a stream of ever new broken topics costs bounded memory
            self._logged.add(logged)
            _LOGGER.warning("Discovery message on %s ignored: %s (payload: %.200s)", topic, reason, text)
            if isinstance(cause, PlanLimitError):
                limits.notify(self.hub, cause)  # the home's plan refused the device or entity
        self.hub.bus.fire(EVENT_DISCOVERY_ERROR, {"topic": topic, "reason": reason, "payload": text})

    # ---- one message ----

    async def _process(self, topic: str, raw: bytes | str, cached: bool, validated: str | None = None) -> None:
        match = TOPIC_PATTERN.fullmatch(topic[len(self.prefix) + 1 :]) if topic.startswith(self.prefix + "/") else None
        if match is None:
            message = f"Received message on illegal discovery topic '{topic}'"
            raise DiscoveryError(message)
        component, node_id, object_id = match.group("component", "node_id", "object_id")
        if component != "device" and component not in COMPONENTS and component not in NON_ENTITY_COMPONENTS:
            supported = ", ".join(("device", *COMPONENTS, *NON_ENTITY_COMPONENTS))
            message = f"component '{component}' is not supported (supported: {supported})"
            raise DiscoveryError(message)
        try:
            payload = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as err:
            message = f"payload is not UTF-8 text: {err}"
            raise DiscoveryError(message) from err
        digest = _digest(raw if isinstance(raw, bytes) else payload.encode("utf-8"))
        if digest == self._payloads.get(topic):
            return  # the same config again (a retained replay): nothing to do
        discovery_id = f"{node_id} {object_id}" if node_id else object_id
        if payload == "":
            self._payloads.pop(topic, None)
            if component == "device":
                for key in self._device_components.pop(topic, set()):
                    await self._remove(key)
            else:
                await self._remove((component, discovery_id))
            if self.store is not None:
                self.store.remove(topic)
            return
        config = _cached_config(validated) if validated is not None and component in COMPONENTS else None
        if config is not None:
            # Validated by these schemas when it was cached, and the payload is the same.
            await self._apply((component, discovery_id), component, config, topic)
            self._payloads[topic] = digest
            return
        data = _parse(payload, object_id)
        if _migrating(data):
            await self._unload(topic, component, discovery_id)
            return
        if component == "device":
            await self._process_device(topic, data, node_id, object_id)
        elif component in NON_ENTITY_COMPONENTS:
            await self._apply_non_entity(component, discovery_id, expand_base_topic(expand_component(data)), topic)
        else:
            config = self._validate(component, expand_base_topic(expand_component(data)))
            await self._apply((component, discovery_id), component, config, topic)
        self._payloads[topic] = digest
        if self.store is not None and (not cached or component in COMPONENTS):
            # A cached entity config is written again with its validated form (validated here
            # because it had none or another hub's schemas validated it): the next start skips it.
            self.store.put(topic, payload, component, discovery_id, config)

    def _validate(self, component: str, config: dict[str, Any], where: str = "") -> dict[str, Any]:
        try:
            validated: dict[str, Any] = SCHEMAS[component](config)
            return validated
        except vol.Invalid as err:
            message = f"invalid {component} config{where}: {humanize(err)}"
            raise DiscoveryError(message) from err

    async def _process_device(self, topic: str, data: dict[str, Any], node_id: str | None, object_id: str) -> None:
        root = {ABBREVIATIONS.get(key, key): value for key, value in data.items()}
        root["device"] = expand_device(root.get("device"))
        root["origin"] = expand_origin(root.get("origin"))
        if isinstance(root.get("components"), dict):
            root["components"] = {
                cid: expand_component(c) if isinstance(c, dict) else c for cid, c in root["components"].items()
            }
        try:
            DEVICE_DISCOVERY_SCHEMA(root)
        except vol.Invalid as err:
            message = f"invalid device discovery payload: {humanize(err)}"
            raise DiscoveryError(message) from err
        origin = root["origin"]
        _LOGGER.info(
            "Processing device discovery for '%s' from external application %s, version: %s",
            f"{node_id} {object_id}" if node_id else object_id,
            origin.get("name"),
            origin.get("sw_version"),
        )
        shared = {key: root[key] for key in (*SHARED_OPTIONS, "~") if key in root}
        seen: set[Hash] = set()
        for component_id, raw_component in root["components"].items():
            component_config = dict(raw_component)
            platform = component_config.pop("platform")
            discovery_id = f"{object_id} {node_id} {component_id}" if node_id else f"{object_id} {component_id}"
            key = (platform, discovery_id)
            if not component_config:
                continue  # only {"p": ...}: the component is removed below
            if platform in NON_ENTITY_COMPONENTS:
                config = {**shared, **component_config, "device": root["device"], "origin": origin}
                try:
                    await self._apply_non_entity(platform, discovery_id, expand_base_topic(config), topic, f" for component '{component_id}'")
                except DiscoveryError as err:
                    self._error(topic, str(err), orjson.dumps(raw_component).decode(), err.__cause__)
                    continue
                seen.add(key)
                continue
            if platform not in COMPONENTS:
                self._error(topic, f"component '{component_id}': platform '{platform}' is not supported", orjson.dumps(raw_component).decode())
                continue
            config = {**shared, **component_config, "device": root["device"], "origin": origin}
            try:
                validated = self._validate(platform, expand_base_topic(config), f" for component '{component_id}'")
                await self._apply(key, platform, validated, topic)
            except DiscoveryError as err:
                self._error(topic, str(err), orjson.dumps(raw_component).decode(), err.__cause__)
                continue
            seen.add(key)
        for gone in self._device_components.get(topic, set()) - seen:
            await self._remove(gone)
        self._device_components[topic] = seen

    # ---- what is not an entity ----

    async def _apply_non_entity(self, component: str, discovery_id: str, config: dict[str, Any], topic: str, where: str = "") -> None:
        """A device trigger or tag scanner config: validate it and hand it to its module."""
        module = device_trigger if component == "device_automation" else tag_scanner
        try:
            validated = module.DISCOVERY_SCHEMA(config)
        except vol.Invalid as err:
            message = f"invalid {component} config{where}: {humanize(err)}"
            raise DiscoveryError(message) from err
        try:
            if component == "device_automation":
                await device_trigger.device_triggers(self.hub).apply(discovery_id, validated, topic)
            else:
                await tag_scanner.tag_scanners(self.hub).apply(discovery_id, validated, topic)
        except (RegistryError, TemplateError) as err:
            raise DiscoveryError(str(err)) from err

    # ---- entities ----

    async def _apply(self, key: Hash, component: str, config: dict[str, Any], topic: str) -> None:
        entity = self.entities.get(key)
        if entity is not None and entity.config == config:
            return
        if entity is not None:
            try:
                # Compile the new config on a throwaway first: a bad template leaves the live one intact.
                COMPONENTS[component](self.client, self.hub, config, topic)
            except TemplateError as err:
                raise DiscoveryError(str(err)) from err
            # Same discovery topic: the entity is updated in place whatever its unique_id says (HA);
            # it stays registered under the unique_id it was added with.
            registered = entity.unique_id
            entity.update_config(config)
            entity.unique_id = registered
            await self._refresh_registries(entity)
            _LOGGER.debug("Updated %s from %s", entity.entity_id, topic)
            return
        try:
            entity = COMPONENTS[component](self.client, self.hub, config, topic)
        except TemplateError as err:
            raise DiscoveryError(str(err)) from err
        try:
            await self.hub.entities.add(entity, DOMAIN)
        except (HubError, RegistryError) as err:
            entity.unsubscribe()
            raise DiscoveryError(str(err)) from err
        if entity.entity_id is None or self.hub.entities.get(entity.entity_id) is not entity:
            return  # disabled in the registry
        self.entities[key] = entity
        _LOGGER.debug("Discovered %s from %s", entity.entity_id, topic)

    async def _refresh_registries(self, entity: MqttEntity) -> None:
        """Follow a renamed device or entity into the registries."""
        if entity.device_info and self.hub.device_registry is not None:
            info = {k: v for k, v in entity.device_info.items() if k in DEVICE_INFO_KEYS}
            device = await self.hub.device_registry.get_or_create(integration=DOMAIN, **info)
            entity.device_id = device.id
            entity.device_name = device.name_by_user or device.name
        if entity.unique_id is not None and self.hub.entity_registry is not None:
            await self.hub.entity_registry.get_or_create(
                entity.domain,
                DOMAIN,
                entity.unique_id,
                device_id=entity.device_id,
                original_name=entity.name,
                original_icon=entity.icon,
                original_device_class=entity.device_class,
                unit_of_measurement=entity.unit_of_measurement,
                entity_category=entity.entity_category,
            )
        entity.invalidate_attributes()
        entity.write_state()

    async def _remove(self, key: Hash) -> None:
        """Remove a discovered entity, its registry entry and its device once unused."""
        if key[0] == "device_automation":
            device_trigger.device_triggers(self.hub).remove(key[1])
            return
        if key[0] == "tag":
            tag_scanner.tag_scanners(self.hub).remove(key[1])
            return
        entity = self.entities.pop(key, None)
        if entity is None or entity.entity_id is None:
            return
        entity_id, device_id = entity.entity_id, entity.device_id
        await self.hub.entities.remove(entity_id)
        registry = self.hub.entity_registry
        if registry is not None and entity.unique_id is not None and entity_id in registry:
            await registry.remove(entity_id)
        devices = self.hub.device_registry
        if device_id and devices is not None and device_id in devices:
            in_use = any(e.device_id == device_id for e in self.hub.entities) or (
                registry is not None and registry.entries_for_device(device_id)
            )
            if not in_use:
                await devices.remove(device_id)
        _LOGGER.info("Removed %s (empty discovery payload)", entity_id)

    async def _unload(self, topic: str, component: str, discovery_id: str) -> None:
        """migrate_discovery: stop the entity but keep its registry entries for the new topic."""
        self._payloads.pop(topic, None)
        keys = self._device_components.pop(topic, set()) if component == "device" else {(component, discovery_id)}
        for key in keys:
            entity = self.entities.pop(key, None)
            if entity is not None and entity.entity_id is not None:
                await self.hub.entities.remove(entity.entity_id)
        if self.store is not None:
            self.store.remove(topic)
        _LOGGER.info("Discovery on %s is migrating: unloaded, registry entries kept", topic)


def _digest(payload: bytes) -> bytes:
    """Return a 128-bit digest of a discovery payload (a replayed config is skipped by it)."""
    return hashlib.blake2b(payload, digest_size=16).digest()


def _cached_config(validated: str) -> dict[str, Any] | None:
    """A cached validated config, its device block shared with its device's other configs; None if unreadable."""
    try:
        config = orjson.loads(validated)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(config, dict):
        return None
    if isinstance(config.get("device"), dict):
        config["device"] = valid_device(config["device"])  # validated with the config: only shared
    return config


def _parse(payload: str, object_id: str) -> dict[str, Any]:
    try:
        data = payload_json.loads(payload)
    except orjson.JSONDecodeError as err:
        message = f"Unable to parse JSON {object_id}: {err}"
        raise DiscoveryError(message) from err
    if not isinstance(data, dict):
        message = f"payload must be a JSON object, got {type(data).__name__}"
        raise DiscoveryError(message)
    return data


def _migrating(data: dict[str, Any]) -> bool:
    value = data.get("migrate_discovery", data.get("migr_discvry"))
    if value is None:
        return False
    if value is True:
        return True
    _LOGGER.warning("Ignoring migrate_discovery value %r: only true is allowed", value)
    return False
