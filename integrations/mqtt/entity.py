"""What every discovered MQTT entity shares: naming, device, availability, attributes, topics.

A component class mixes `MqttEntity` with a hub entity domain and implements `configure_component`
(read its keys once per config) and `subscribe_component` (its state topics). A new config for the
same discovery hash re-runs both on the live entity: an update in place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from hub import payload_json
from hub.core.entities import DEVICE_INFO_KEYS
from hub.core.entity import Entity
from hub.core.states import STATE_UNAVAILABLE, STATE_UNKNOWN, ReadOnlyDict
from hub.util import slugify
from integrations.mqtt.availability import Availability
from integrations.mqtt.compact import Config, compact
from integrations.mqtt.subscriptions import Message
from integrations.mqtt.templates import EntityTemplate, MqttTemplate

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.mqtt.client import MqttClient

_LOGGER = logging.getLogger(__name__)

DOMAIN = "mqtt"
# At most one warning about an entity's payloads in this many seconds (the rest at debug level),
# and no more of a payload in it than this many characters: a device that sends 1 MB of garbage
# ten times a second costs one short line a minute.
WARN_INTERVAL = 60.0
WARN_PAYLOAD_CHARS = 200
# The QoS of state, availability and attribute subscriptions when a config names none. Home
# Assistant subscribes at 0; at 1 the broker keeps what a device reported while the hub was away
# (a restart, a lost connection) and delivers it again until the hub acknowledged it, and the
# hub acknowledges only once the reading is in the recorder's spool. Commands go out at 0 unless
# the config asks otherwise, as in Home Assistant. See docs/mqtt.md.
STATE_QOS = 1
# Distinct device blocks whose device info is shared between entities (a bounded cache: past
# this many the oldest is dropped; an entity then builds a copy of its own, which costs memory,
# not correctness).
DEVICE_INFO_CACHE = 1024
_NEVER_WARNED = -WARN_INTERVAL
_device_infos: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}


class MqttEntity(Entity):
    """The shared part of a discovered entity; subclasses also inherit a hub entity domain."""

    default_name: ClassVar[str] = "MQTT Entity"
    # Device classes that name an entity when the config has no name (Home Assistant's rule).
    names_from_device_class: ClassVar[bool] = False
    has_entity_name = True
    # Defaults at class level, and optional attributes left unset while they are None (see
    # set_optional): an instance with fewer than 30 attributes of its own keeps a key-sharing
    # __dict__ (~300 bytes); with 30 or more CPython gives it a dict of its own (~1.6 KB).
    _attributes_cache: ReadOnlyDict | None = None
    _attributes_template: MqttTemplate | None = None
    # What every discovered entity sets in __init__/configure lives in slots, not in the __dict__:
    # CPython shares a class's dict keys between its instances only up to 30 names in all, and
    # a light or a switch with its optional keys went past that, giving each such entity a
    # dict of its own (~1.6 KB instead of ~0.3 KB). Only names set on every instance belong here:
    # an unset slot has no class default to fall back on. Nor do names set late belong in the
    # __dict__: an attribute first set after others (the first warning, the first JSON attributes)
    # left CPython 3.11 with a dict of its own per entity (~830 bytes instead of ~200), measured
    # with the fuzz campaign (bench/payload_fuzz.py), where most entities warn.
    __slots__ = ("client", "discovery_topic", "config", "_unsubscribes", "availability",
                 "qos", "command_qos", "encoding", "hub", "unique_id", "device_class", "device_info", "name",
                 "_warned_at", "_json_attributes")

    def __init__(self, client: MqttClient, hub: Hub, config: dict[str, Any], discovery_topic: str | None) -> None:
        self.client = client
        self.hub = hub
        self.discovery_topic = discovery_topic
        self._unsubscribes: list[Callable[[], None]] = []
        self._warned_at = _NEVER_WARNED  # time.monotonic() of the last warning
        self._json_attributes: dict[str, Any] | None = None
        self.configure(config)

    # ---- configuration ----

    config: Config

    def configure(self, config: Mapping[str, Any]) -> None:
        """Apply a validated discovery config (new, or an update of this entity)."""
        self.config = config = compact(config)
        self.unique_id = config.get("unique_id")
        self.set_optional("icon", config.get("icon"))
        self.set_optional("entity_picture", config.get("entity_picture"))
        self.device_class = config.get("device_class")
        self.set_optional("entity_category", config.get("entity_category"))
        qos: int | None = config.get("qos")
        self.qos: int = STATE_QOS if qos is None else qos  # subscriptions
        self.command_qos: int = 0 if qos is None else qos  # published commands
        self.encoding: str | None = config["encoding"] or None
        self.device_info = _device_info(config.get("device"))
        self.name = self._name(config)
        object_id = config.get("default_entity_id") or config.get("object_id")
        if object_id and self.entity_id is None:
            object_id = object_id.partition(".")[2] if "." in object_id else object_id
            self.entity_id = f"{self.domain}.{slugify(object_id)}"
        self.availability = Availability.of(config, self)
        self.set_optional("_attributes_template", self.template("json_attributes_template"))
        self._json_attributes = None
        self.set_optional("_attributes_cache", None)
        self.configure_component(config)

    def configure_component(self, config: Config) -> None:
        """Read the component's own keys (override)."""

    def set_optional(self, name: str, value: Any) -> None:
        """Set an attribute whose class default is None; None drops the instance's own value.

        Thousands of discovered entities: each attribute left at its class default keeps the
        instance's __dict__ small (see the class attributes above).
        """
        if value is not None:
            setattr(self, name, value)
        elif getattr(self, name) is not None:  # (not `name in vars(self)`: that makes a dict of ~100 bytes)
            delattr(self, name)

    def _name(self, config: Config) -> str | None:
        if "name" in config:
            name: str | None = config["name"]  # None: the entity takes its device's name
            return name
        if self.names_from_device_class and config.get("device_class"):
            return str(config["device_class"]).replace("_", " ").capitalize()
        return self.default_name

    def template(self, key: str) -> MqttTemplate | None:
        """Return the compiled template of a config key (entity_id and name as its variables), or None."""
        source = self.config.get(key)
        if source is None:
            return None
        return EntityTemplate(source, self, key)

    def _template_owner(self) -> str:
        """Name the entity in a template error: its entity_id, else its discovery topic or unique_id."""
        return str(self.entity_id or self.config.get("unique_id") or self.config.get("state_topic") or "MQTT entity")

    # ---- lifecycle ----

    async def added_to_hub(self) -> None:
        """Take over the state remembered from before a restart, then subscribe."""
        restored = self.hub.states.get(self.entity_id) if self.entity_id and self.hub else None
        if restored is not None and restored.attributes.get("restored") is None:
            self.restore_state(restored.state, dict(restored.attributes))
        self.subscribe()

    async def will_remove_from_hub(self) -> None:
        """Release every subscription."""
        self.unsubscribe()

    def restore_state(self, state: str, attributes: dict[str, Any]) -> None:
        """Adopt a state remembered from before a restart (override per component)."""
        if self.availability.configured:
            self.availability.restore(state != STATE_UNAVAILABLE)

    def subscribe(self) -> None:
        """Subscribe to the availability, attributes and component topics."""
        client = self.client
        self._unsubscribes.extend(self.availability.subscribe(client, self.qos, self.write_state))
        if self.config.get("json_attributes_topic"):
            self._unsubscribes.append(
                client.subscribe(self.config["json_attributes_topic"], self._attributes_received, self.qos)
            )
        self.subscribe_component()

    def subscribe_component(self) -> None:
        """Subscribe to the component's state topics (override)."""

    def unsubscribe(self) -> None:
        """Drop every subscription of this entity."""
        for undo in self._unsubscribes:
            undo()
        self._unsubscribes.clear()

    def update_config(self, config: Mapping[str, Any]) -> None:
        """Re-configure the live entity from a changed discovery payload, in place."""
        self.unsubscribe()
        self.configure(config)
        self.subscribe()
        self.write_state()

    # ---- state ----

    def payload_text(self, message: Message) -> str:
        """Return the payload as text in the configured encoding (bad bytes replaced)."""
        if self.encoding is None:
            # `encoding: ''` hands the raw bytes on, as in Home Assistant; typing it `str | bytes`
            # would reach every apply_payload for this one rare option.
            return message.payload  # type: ignore[return-value]
        return message.payload.decode(self.encoding, "replace")

    def warn_once(self, key: str, text: str, *args: Any) -> None:
        """Log a problem with a payload: one warning per entity a minute, long payloads cut short.

        `key` names the kind of problem (kept for the debug line); the rest go to debug level.
        """
        args = tuple(_shorten(arg) for arg in args)
        now = time.monotonic()
        if now - self._warned_at < WARN_INTERVAL:
            _LOGGER.debug("%s: " + text, key, *args)
            return
        self._warned_at = now
        _LOGGER.warning(text, *args)

    def _attributes_received(self, message: Message) -> None:
        payload = self.payload_text(message)
        if self._attributes_template is not None:
            payload = self._attributes_template.render_value(payload, default=payload)
        try:
            value = payload_json.loads(payload)
        except orjson.JSONDecodeError:
            self.warn_once("attributes", "Erroneous JSON on %s for %s: %r", message.topic, self.entity_id, payload)
            return
        if not isinstance(value, dict):
            self.warn_once("attributes", "JSON result on %s for %s is not a dictionary: %r", message.topic, self.entity_id, payload)
            return
        self._json_attributes = value
        self._attributes_cache = None
        self.write_state()

    def state_attributes(self) -> dict[str, Any]:
        """Return the attributes, built once per config and cached between messages."""
        cached = self._attributes_cache
        if cached is None or self.available != self._cached_available:
            self.set_optional("extra_state_attributes", self._json_attributes)
            cached = ReadOnlyDict(super().state_attributes())
            self._attributes_cache = cached
            if self._cached_available != self.available:
                self._cached_available = self.available
        return cached

    def invalidate_attributes(self) -> None:
        """Rebuild the attributes at the next write (after a capability changed)."""
        self._attributes_cache = None

    _cached_available = True

    def state_string(self) -> str:
        """Return the state, unavailable while the availability topics say so."""
        available = self.availability.available
        if available != self.available:
            self.available = available
        return super().state_string()

    def unknown_state(self) -> str:
        """The unknown state string (for components that reset)."""
        return STATE_UNKNOWN


def _device_info(device: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return the device info of a config's `device`: one shared (read-only) dict per device.

    A device's entities (ten on a PZEM node, dozens on a Zigbee2MQTT device) carry the same
    validated device block (integrations.mqtt.schemas.device shares it); they share one info dict
    too, found by that block's identity (the entry holds the block, so the id is not reused).
    """
    if not device:
        return None
    found = _device_infos.get(id(device))
    if found is not None and found[0] is device:
        return found[1]
    info = _build_device_info(device)
    if len(_device_infos) >= DEVICE_INFO_CACHE:
        del _device_infos[next(iter(_device_infos))]
    _device_infos[id(device)] = (device, info)
    return info


def _build_device_info(device: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "identifiers": [(DOMAIN, identifier) for identifier in device.get("identifiers", ())],
        "connections": [tuple(pair) for pair in device.get("connections", ())],
    }
    for key in DEVICE_INFO_KEYS:
        if key in device and key not in info and key != "via_device":
            info[key] = device[key]
    if "via_device" in device:
        info["via_device"] = (DOMAIN, device["via_device"])
    return info


class _Shortened:
    """A long payload in a log line: its start, and how long it was (the same for %r and %s)."""

    __slots__ = ("text",)

    def __init__(self, value: str | bytes) -> None:
        unit = "bytes" if isinstance(value, bytes) else "characters"
        self.text = f"{value[:WARN_PAYLOAD_CHARS]!r}... ({len(value)} {unit})"

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def _shorten(value: Any) -> Any:
    """Cut a long payload (str or bytes) for a log line."""
    if isinstance(value, (str, bytes)) and len(value) > WARN_PAYLOAD_CHARS:
        return _Shortened(value)
    return value
