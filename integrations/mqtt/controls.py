"""Discovered things the hub commands: switch, number, select, text, button and a basic light."""

from __future__ import annotations

import re
from typing import Any

import orjson

from hub import payload_json
from hub.core.entity import ButtonEntity, NumberEntity, SelectEntity, SwitchEntity, TextEntity, ToggleEntity
from hub.core.states import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from integrations.mqtt.compact import Config
from integrations.mqtt.entity import MqttEntity
from integrations.mqtt.schemas import PAYLOAD_NONE
from integrations.mqtt.subscriptions import Message

_KEEP: Any = object()


class _Commanded(MqttEntity):
    """A command topic with template, qos and retain, and optimistic mode."""

    __slots__ = ("_command_template", "_value_template", "_retain")  # set on every instance (see MqttEntity)
    optimistic: bool = False
    """Whether the state changes when a command is sent rather than when the device reports it."""

    @property
    def command_topic(self) -> str | None:
        """The topic commands are published to."""
        topic: str | None = self.config.get("command_topic")
        return topic

    @property
    def state_topic(self) -> str | None:
        """The topic the device reports its state on (None: the device sends no echo)."""
        topic: str | None = self.config.get("state_topic")
        return topic

    def configure_commands(self, config: Config) -> None:
        """Read command_topic, command_template, retain, optimistic and the state template."""
        self._command_template = self.template("command_template")
        self._value_template = self.template("value_template")
        self._retain = config.get("retain", False)
        self.optimistic = config.get("optimistic", "state_topic" not in config)
        self.assumed_state = self.optimistic

    async def send_command(self, value: Any, payload: Any | None = None) -> None:
        """Publish `payload` (default: value) through command_template to the command topic.

        Raises:
            TemplateError: the command_template failed to render.
            MqttClientError: the broker is unreachable or did not acknowledge.
        """
        outgoing = value if payload is None else payload
        if self._command_template is not None:
            outgoing = self._command_template.render_command(value)
        if not isinstance(outgoing, (str, bytes)):
            outgoing = str(outgoing)
        await self.client.publish(self.config["command_topic"], outgoing, self.command_qos, self._retain)

    def subscribe_state(self) -> None:
        """Subscribe to the state topic, if any."""
        if self.config.get("state_topic"):
            self._unsubscribes.append(self.client.subscribe(self.config["state_topic"], self._state_message, self.qos))

    def _state_message(self, message: Message) -> None:
        payload = self.payload_text(message)
        if self._value_template is not None:
            payload = self._value_template.render_value(payload, default=_KEEP)
            if payload is _KEEP:
                return
        if payload == "":
            return
        if self.apply_payload(payload, message.topic):
            self.write_state()

    def apply_payload(self, payload: str, topic: str) -> bool:
        """Set the state from a payload; return whether it applied (override)."""
        return False


class MqttSwitch(_Commanded, SwitchEntity):
    """A relay: payload_on/off out, state_on/off in."""

    default_name = "MQTT Switch"

    def configure_component(self, config: Config) -> None:
        """Read the switch keys."""
        self.configure_commands(config)
        self._payload_on = config["payload_on"]
        self._payload_off = config["payload_off"]
        self._state_on = config.get("state_on", self._payload_on)
        self._state_off = config.get("state_off", self._payload_off)
        if self.optimistic and self.is_on is None:
            self.is_on = False

    subscribe_component = _Commanded.subscribe_state

    def restore_state(self, state: str, attributes: dict[str, Any]) -> None:
        """Take the remembered on/off."""
        super().restore_state(state, attributes)
        if state in (STATE_ON, STATE_OFF):
            self.is_on = state == STATE_ON

    def apply_payload(self, payload: str, topic: str) -> bool:
        """on, off or unknown; the device's report also goes to the command policy."""
        if payload == self._state_on:
            self.is_on = True
        elif payload == self._state_off:
            self.is_on = False
        elif payload == PAYLOAD_NONE:
            self.is_on = None
        else:
            self.warn_once("payload", "Ignoring %r on %s for %s: neither %r nor %r", payload, topic, self.entity_id, self._state_on, self._state_off)
            return False
        self.device_reported()
        return True

    async def turn_on(self, **kwargs: Any) -> None:
        """Publish payload_on."""
        await self.send_command(self._payload_on)
        if self.optimistic:
            self.is_on = True
            self.write_state()

    async def turn_off(self, **kwargs: Any) -> None:
        """Publish payload_off."""
        await self.send_command(self._payload_off)
        if self.optimistic:
            self.is_on = False
            self.write_state()


class MqttNumber(_Commanded, NumberEntity):
    """A numeric setting."""

    default_name = "MQTT Number"
    names_from_device_class = True

    def configure_component(self, config: Config) -> None:
        """Read the number keys."""
        self.configure_commands(config)
        self.native_min_value = config["min"]
        self.native_max_value = config["max"]
        self.native_step = config["step"]
        self.mode = config["mode"]
        self.unit_of_measurement = config.get("unit_of_measurement")
        self._payload_reset = config["payload_reset"]

    subscribe_component = _Commanded.subscribe_state

    def restore_state(self, state: str, attributes: dict[str, Any]) -> None:
        """Take the remembered value."""
        super().restore_state(state, attributes)
        self.native_value = _number(state)

    def apply_payload(self, payload: str, topic: str) -> bool:
        """A number within min..max, or payload_reset for unknown."""
        if payload == self._payload_reset:
            self.native_value = None
            return True
        value = _number(payload)
        if value is None:
            self.warn_once("number", "Payload %r on %s for %s is not a number", payload, topic, self.entity_id)
            return False
        if not self.native_min_value <= value <= self.native_max_value:
            self.warn_once(
                "range",
                "Invalid value for %s: %s (range %s - %s)",
                self.entity_id,
                value,
                self.native_min_value,
                self.native_max_value,
            )
            return False
        self.native_value = value
        return True

    async def set_value(self, value: float) -> None:
        """Publish the value (an integer when it is whole)."""
        out = int(value) if float(value).is_integer() else value
        await self.send_command(out)
        if self.optimistic:
            self.native_value = out
            self.write_state()


class MqttSelect(_Commanded, SelectEntity):
    """A choice among options."""

    default_name = "MQTT Select"

    def configure_component(self, config: Config) -> None:
        """Read the select keys."""
        self.configure_commands(config)
        self.options = list(config["options"])

    subscribe_component = _Commanded.subscribe_state

    def restore_state(self, state: str, attributes: dict[str, Any]) -> None:
        """Take the remembered option."""
        super().restore_state(state, attributes)
        if state in self.options:
            self.current_option = state

    def apply_payload(self, payload: str, topic: str) -> bool:
        """One of the options, or unknown."""
        if payload == PAYLOAD_NONE:
            self.current_option = None
            return True
        if payload not in self.options:
            self.warn_once("option", "Invalid option for %s: %r on %s (options: %s)", self.entity_id, payload, topic, ", ".join(self.options))
            return False
        self.current_option = payload
        return True

    async def select_option(self, option: str) -> None:
        """Publish the option."""
        await self.send_command(option)
        if self.optimistic:
            self.current_option = option
            self.write_state()


class MqttText(_Commanded, TextEntity):
    """A text value."""

    default_name = "MQTT Text"

    def configure_component(self, config: Config) -> None:
        """Read the text keys."""
        self.configure_commands(config)
        self.native_min = config["min"]
        self.native_max = config["max"]
        self.mode = config["mode"]
        self.pattern = config.get("pattern")

    subscribe_component = _Commanded.subscribe_state

    def restore_state(self, state: str, attributes: dict[str, Any]) -> None:
        """Take the remembered text."""
        super().restore_state(state, attributes)
        if state not in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            self.native_value = state

    def apply_payload(self, payload: str, topic: str) -> bool:
        """A text within the length limits that matches the pattern."""
        if not self.native_min <= len(payload) <= self.native_max:
            self.warn_once(
                "length", "Ignoring %r on %s for %s: length must be %s to %s", payload, topic, self.entity_id, self.native_min, self.native_max
            )
            return False
        if self.pattern and not re.fullmatch(self.pattern, payload):
            self.warn_once("pattern", "Ignoring %r on %s for %s: does not match %s", payload, topic, self.entity_id, self.pattern)
            return False
        self.native_value = payload
        return True

    async def set_value(self, value: str) -> None:
        """Publish the text."""
        await self.send_command(value)
        if self.optimistic:
            self.native_value = value
            self.write_state()


class MqttButton(_Commanded, ButtonEntity):
    """Publishes payload_press when pressed."""

    default_name = "MQTT Button"
    names_from_device_class = True

    def configure_component(self, config: Config) -> None:
        """Read the button keys."""
        self.configure_commands(config)
        self._payload_press = config["payload_press"]

    async def press(self) -> None:
        """Publish payload_press."""
        await self.send_command(self._payload_press)


class LightEntity(ToggleEntity):
    """A light with on/off and brightness (0-255)."""

    domain = "light"
    brightness: int | None = None
    supported_color_modes: list[str] = ["onoff"]

    def capability_attributes(self) -> dict[str, Any] | None:
        """Return the color modes the light supports."""
        return {"supported_color_modes": list(self.supported_color_modes)}

    def state_attributes(self) -> dict[str, Any]:
        """Add brightness and color_mode while on."""
        attrs = super().state_attributes()
        mode = self.supported_color_modes[0]
        attrs["color_mode"] = mode if self.is_on else None
        attrs["brightness"] = self.brightness if self.is_on and mode == "brightness" else None
        return attrs


class MqttLight(_Commanded, LightEntity):
    """A light: the basic schema (separate topics) or the JSON schema (one JSON topic)."""

    default_name = "MQTT Light"

    def configure_component(self, config: Config) -> None:
        """Read the light keys."""
        self.configure_commands(config)
        self._json = config["schema"] == "json"
        self._payload_on = config["payload_on"]
        self._payload_off = config["payload_off"]
        self._state_template = self.template("state_value_template")
        self._brightness_template = self.template("brightness_value_template")
        self._scale = config["brightness_scale"]
        dimmable = config.get("brightness") if self._json else "brightness_command_topic" in config
        self.supported_color_modes = ["brightness" if dimmable else "onoff"]
        if self.optimistic and self.is_on is None:
            self.is_on = False

    def state_attributes(self) -> dict[str, Any]:
        """Brightness changes with the state: no cached attributes for lights."""
        self.invalidate_attributes()
        return super().state_attributes()

    def subscribe_component(self) -> None:
        """Subscribe to the state and brightness topics."""
        self.subscribe_state()
        if self.config.get("brightness_state_topic"):
            self._unsubscribes.append(
                self.client.subscribe(self.config["brightness_state_topic"], self._brightness_message, self.qos)
            )

    def restore_state(self, state: str, attributes: dict[str, Any]) -> None:
        """Take the remembered on/off and brightness."""
        super().restore_state(state, attributes)
        if state in (STATE_ON, STATE_OFF):
            self.is_on = state == STATE_ON
        self.brightness = attributes.get("brightness")

    def apply_payload(self, payload: str, topic: str) -> bool:
        """ON/OFF (basic) or {"state": ..., "brightness": ...} (JSON schema), passed to the command policy."""
        if self._json:
            try:
                data = payload_json.loads(payload)
            except orjson.JSONDecodeError:
                self.warn_once("json", "Light %s got invalid JSON on %s: %r", self.entity_id, topic, payload)
                return False
            if not isinstance(data, dict):
                return False
            if "state" in data:
                self.is_on = data["state"] == "ON"
            if isinstance(data.get("brightness"), (int, float)):
                self.brightness = round(data["brightness"] * 255 / self._scale)
            self.device_reported()
            return True
        if self._state_template is not None:
            payload = self._state_template.render_value(payload, default=payload)
        if payload == self._payload_on:
            self.is_on = True
        elif payload == self._payload_off:
            self.is_on = False
        elif payload == PAYLOAD_NONE:
            self.is_on = None
        else:
            return False
        self.device_reported()
        return True

    def _brightness_message(self, message: Message) -> None:
        payload = self.payload_text(message)
        if self._brightness_template is not None:
            payload = self._brightness_template.render_value(payload, default=payload)
        try:
            value = float(payload)
        except ValueError:
            self.warn_once("brightness", "Ignoring brightness %r on %s for %s", payload, message.topic, self.entity_id)
            return
        self.brightness = round(value * 255 / self._scale)
        self.write_state()

    async def turn_on(self, **kwargs: Any) -> None:
        """Switch on, with brightness (0-255) when given."""
        brightness = kwargs.get("brightness")
        if self._json:
            command: dict[str, Any] = {"state": "ON"}
            if brightness is not None:
                command["brightness"] = round(int(brightness) * self._scale / 255)
            await self.send_command(orjson.dumps(command).decode())
        else:
            if brightness is not None and self.config.get("brightness_command_topic"):
                scaled = round(int(brightness) * self._scale / 255)
                await self.client.publish(self.config["brightness_command_topic"], str(scaled), self.command_qos, self._retain)
            if brightness is None or self.config["on_command_type"] != "brightness":
                await self.send_command(self._payload_on)
        if self.optimistic:
            self.is_on = True
            if brightness is not None:
                self.brightness = int(brightness)
            self.write_state()

    async def turn_off(self, **kwargs: Any) -> None:
        """Switch off."""
        await self.send_command(orjson.dumps({"state": "OFF"}).decode() if self._json else self._payload_off)
        if self.optimistic:
            self.is_on = False
            self.write_state()


def _number(text: str) -> float | int | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


