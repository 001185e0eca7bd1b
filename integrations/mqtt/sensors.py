"""Discovered sensors and binary sensors, and the hub's own broker-connection sensor."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from hub.core.entity import BinarySensorEntity, SensorEntity
from hub.core.states import MAX_STATE_LENGTH, STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from hub.templating.timefuncs import parse_datetime
from integrations.mqtt.compact import Config
from integrations.mqtt.entity import MqttEntity
from integrations.mqtt.schemas import PAYLOAD_NONE
from integrations.mqtt.subscriptions import Message

_KEEP: Any = object()


class _Expiring(MqttEntity):
    """expire_after: the state becomes unavailable when no message came for that long.

    One timer per entity, re-armed lazily: a message only moves the deadline.
    """

    __slots__ = ("_value_template",)  # set on every instance (see MqttEntity)

    _expire_after: float = 0.0
    _deadline: float = 0.0
    _timer: asyncio.TimerHandle | None = None
    _expired: bool = False

    def configure_expiry(self, config: Config) -> None:
        """Read expire_after (0 or absent: never)."""
        expire_after = float(config.get("expire_after") or 0)
        if expire_after or self._expire_after:
            self._expire_after = expire_after

    def touch(self) -> None:
        """A message arrived: the state is fresh for another expire_after seconds."""
        if not self._expire_after:
            return
        self._expired = False
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self._expire_after
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._check_expiry)

    def _check_expiry(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        if loop.time() < self._deadline:
            self._timer = loop.call_at(self._deadline, self._check_expiry)
            return
        self._expired = True
        if self.entity_id is not None and self.hub is not None and self.hub.entities.get(self.entity_id) is self:
            self.write_state()

    def unsubscribe(self) -> None:
        """Also stop the expiry timer."""
        super().unsubscribe()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def state_string(self) -> str:
        """Return unavailable once expired."""
        if self._expired:
            return STATE_UNAVAILABLE
        return super().state_string()


class MqttSensor(_Expiring, SensorEntity):
    """A reading from a state topic, through an optional value_template."""

    default_name = "MQTT Sensor"
    names_from_device_class = True

    def configure_component(self, config: Config) -> None:
        """Read the sensor keys."""
        self.unit_of_measurement = config.get("unit_of_measurement")
        self.state_class = config.get("state_class")
        self.set_optional("options", config.get("options"))
        self.set_optional("suggested_display_precision", config.get("suggested_display_precision"))
        self.force_update = config["force_update"]
        self._value_template = self.template("value_template")
        # Home Assistant expects a number when any of these is set.
        self._numeric = self.options is None and (
            self.device_class not in (None, "enum", "timestamp", "date")
            or self.state_class is not None
            or self.unit_of_measurement is not None
            or self.suggested_display_precision is not None
        )
        self.configure_expiry(config)

    def subscribe_component(self) -> None:
        """Subscribe to the state topic."""
        self._unsubscribes.append(self.client.subscribe(self.config["state_topic"], self._received, self.qos))

    def restore_state(self, state: str, attributes: dict[str, Any]) -> None:
        """Take the remembered reading."""
        super().restore_state(state, attributes)
        if state not in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            self.native_value = state

    def _received(self, message: Message) -> None:
        payload = self.payload_text(message)
        if self._value_template is not None:
            payload = self._value_template.render_value(payload, default=_KEEP)
            if payload is _KEEP:
                return  # a template error keeps the current state (logged by the template)
        self.touch()
        if isinstance(payload, str) and len(payload) > MAX_STATE_LENGTH:
            # Unknown, as in Home Assistant, and a warning like every other bad payload's; the text
            # itself is not kept on the entity (a device that sent 1 MB once would otherwise hold
            # 1 MB here until its next reading).
            self.warn_once(
                "length", "Ignoring %r on %s for %s: a state is at most %d characters; the state is unknown",
                payload, message.topic, self.entity_id, MAX_STATE_LENGTH,
            )
            self.native_value = None
            self.write_state()
            return
        if self._numeric:
            if payload == "":
                return
            if payload in ("null", PAYLOAD_NONE):
                self.native_value = None
            else:
                try:
                    float(payload)
                except ValueError:
                    self.warn_once(
                        "numeric",
                        "Ignoring %r on %s for %s: a number is expected (it has a unit, device or state class)",
                        payload,
                        message.topic,
                        self.entity_id,
                    )
                    return
                self.native_value = payload
        elif self.device_class in ("timestamp", "date") and payload != PAYLOAD_NONE:
            if not self._take_time(payload, message.topic):
                return
        elif self.options is not None and payload not in self.options:
            self.warn_once("option", "Ignoring %r on %s for %s: not one of %s", payload, message.topic, self.entity_id, self.options)
            return
        else:
            self.native_value = None if payload == PAYLOAD_NONE else payload
        self.write_state()


    def _take_time(self, payload: str, topic: str) -> bool:
        """A timestamp (or date) sensor: written as HA writes it; a bad payload is unknown.

        A time without a time zone is refused (the state stays), as HA refuses to write it.
        """
        moment = parse_datetime(payload) if isinstance(payload, str) else None
        if moment is None:
            self.warn_once("time", "Invalid state message %r from %r", payload, topic)
            self.native_value = None
            return True
        if self.device_class == "date":
            self.native_value = moment.date().isoformat()
            return True
        if moment.tzinfo is None:
            self.warn_once(
                "timezone", "Invalid datetime: %s provides state %r, which is missing timezone information", self.entity_id, payload
            )
            return False
        self.native_value = moment.astimezone(UTC).isoformat(timespec="seconds")
        return True


class MqttBinarySensor(_Expiring, BinarySensorEntity):
    """On/off from a state topic, compared with payload_on and payload_off."""

    default_name = "MQTT Binary sensor"
    names_from_device_class = True
    _off_timer: asyncio.TimerHandle | None = None

    def configure_component(self, config: Config) -> None:
        """Read the binary sensor keys."""
        self.force_update = config["force_update"]
        self._payload_on = config["payload_on"]
        self._payload_off = config["payload_off"]
        self._off_delay = config.get("off_delay")
        self._value_template = self.template("value_template")
        self.configure_expiry(config)

    def subscribe_component(self) -> None:
        """Subscribe to the state topic."""
        self._unsubscribes.append(self.client.subscribe(self.config["state_topic"], self._received, self.qos))

    def restore_state(self, state: str, attributes: dict[str, Any]) -> None:
        """Take the remembered on/off."""
        super().restore_state(state, attributes)
        if state in (STATE_ON, STATE_OFF):
            self.is_on = state == STATE_ON

    def _received(self, message: Message) -> None:
        payload = self.payload_text(message)
        if self._value_template is not None:
            payload = self._value_template.render_value(payload, default=_KEEP)
            if payload is _KEEP:
                return
        if payload == "":
            return
        self.touch()
        if payload == self._payload_on:
            self.is_on = True
        elif payload == self._payload_off:
            self.is_on = False
        elif payload == PAYLOAD_NONE:
            self.is_on = None
        else:
            self.warn_once(
                "payload",
                "No matching payload found for %s: %r on %s (payload_on %r, payload_off %r)",
                self.entity_id,
                payload,
                message.topic,
                self._payload_on,
                self._payload_off,
            )
            return
        if self._off_timer is not None:
            self._off_timer.cancel()
            self._off_timer = None
        if self.is_on and self._off_delay:
            self._off_timer = asyncio.get_running_loop().call_later(self._off_delay, self._turn_off)
        self.write_state()

    def _turn_off(self) -> None:
        self._off_timer = None
        self.is_on = False
        self.write_state()

    def unsubscribe(self) -> None:
        """Also stop the off_delay timer."""
        super().unsubscribe()
        if self._off_timer is not None:
            self._off_timer.cancel()
            self._off_timer = None


class BrokerConnectedSensor(BinarySensorEntity):
    """`binary_sensor.mqtt_broker_connected`: whether the hub is connected to its broker."""

    unique_id = "mqtt_broker_connected"
    name = "MQTT broker connected"
    device_class = "connectivity"
    entity_category = "diagnostic"
    entity_id = "binary_sensor.mqtt_broker_connected"

    def __init__(self, broker: str) -> None:
        self.is_on = False
        self.extra_state_attributes = {"broker": broker}

    def set_connected(self, connected: bool) -> None:
        """Record a connect or disconnect."""
        self.is_on = connected
        if self.hub is not None and self.entity_id is not None and self.hub.entities.get(self.entity_id) is self:
            self.write_state()


class EmbeddedBrokerSensor(BinarySensorEntity):
    """`binary_sensor.mqtt_embedded_broker`: whether the broker the hub runs itself is up (restarts counted)."""

    unique_id = "mqtt_embedded_broker"
    name = "MQTT embedded broker"
    device_class = "running"
    entity_category = "diagnostic"
    entity_id = "binary_sensor.mqtt_embedded_broker"

    def __init__(self, engine: str, url: str) -> None:
        self.is_on = True
        self.extra_state_attributes = {"engine": engine, "url": url, "restarts": 0, "last_exit_code": None}

    def update(self, running: bool, restarts: int, last_exit: int | None) -> None:
        """Record that the broker died or runs again."""
        self.is_on = running
        self.extra_state_attributes = {**(self.extra_state_attributes or {}), "restarts": restarts, "last_exit_code": last_exit}
        if self.hub is not None and self.entity_id is not None and self.hub.entities.get(self.entity_id) is self:
            self.write_state()
