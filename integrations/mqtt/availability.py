"""Availability of a discovered entity: one topic or several, combined by all/any/latest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from integrations.mqtt.subscriptions import Message
from integrations.mqtt.templates import EntityTemplate, MqttTemplate, TemplateOwner

if TYPE_CHECKING:
    from integrations.mqtt.client import MqttClient


@dataclass(slots=True)
class _Topic:
    topic: str
    payload_available: str
    payload_not_available: str
    template: MqttTemplate | None


class Availability:
    """Track the availability topics of one entity; `available` says what they add up to.

    Slotted, and `Availability.of(config, owner)` hands every entity without availability
    topics the same (unchanging) instance: thousands of entities hold one each.
    """

    __slots__ = ("mode", "_topics", "_status", "_latest")

    def __init__(self, config: Mapping[str, Any], owner: TemplateOwner | None = None) -> None:
        self.mode: str = config.get("availability_mode", "latest")
        topics: list[_Topic] = []
        if "availability_topic" in config:
            topics.append(
                _Topic(
                    config["availability_topic"],
                    config["payload_available"],
                    config["payload_not_available"],
                    _compile(config.get("availability_template"), owner, "availability_template"),
                )
            )
        for item in config.get("availability") or ():
            topics.append(
                _Topic(
                    item["topic"],
                    item["payload_available"],
                    item["payload_not_available"],
                    _compile(item.get("value_template"), owner, "availability value_template"),
                )
            )
        self._topics: tuple[_Topic, ...] = tuple(topics)
        # Each topic starts unknown (None): with availability configured an entity is
        # unavailable until a device says otherwise.
        self._status: dict[str, bool | None] = {t.topic: None for t in self._topics}
        self._latest: bool | None = None

    @classmethod
    def of(cls, config: Mapping[str, Any], owner: TemplateOwner) -> Availability:
        """Return the availability of a config: the shared NONE when it names no topic."""
        if "availability_topic" in config or config.get("availability"):
            return cls(config, owner)
        return NONE

    @property
    def configured(self) -> bool:
        """Return whether any availability topic is configured."""
        return bool(self._topics)

    @property
    def available(self) -> bool:
        """Return what the topics add up to under the availability mode."""
        if not self._topics:
            return True
        if self.mode == "all":
            return all(self._status.values())
        if self.mode == "any":
            return any(self._status.values())
        return bool(self._latest)

    def restore(self, available: bool) -> None:
        """Assume an availability remembered from before a restart, until a device says more."""
        if not self._topics:
            return  # (NONE is shared: it never changes)
        for topic in self._status:
            self._status[topic] = available
        self._latest = available

    def subscribe(self, client: MqttClient, qos: int, changed: Callable[[], None]) -> list[Callable[[], None]]:
        """Subscribe to every availability topic; call changed() when `available` changes."""
        return [client.subscribe(item.topic, _Handler(self, item, changed), qos) for item in self._topics]

    def received(self, item: _Topic, payload: str, changed: Callable[[], None]) -> None:
        """A message on one availability topic."""
        if item.template is not None:
            payload = item.template.render_value(payload, default=payload)
        if payload == item.payload_available:
            status: bool | None = True
        elif payload == item.payload_not_available:
            status = False
        else:
            return
        before = self.available
        self._status[item.topic] = status
        self._latest = status
        if self.available != before:
            changed()


class _Handler:
    """The subscription of one availability topic (slotted: one per topic of thousands of entities)."""

    __slots__ = ("availability", "item", "changed")

    def __init__(self, availability: Availability, item: _Topic, changed: Callable[[], None]) -> None:
        self.availability = availability
        self.item = item
        self.changed = changed

    def __call__(self, message: Message) -> None:
        self.availability.received(self.item, message.payload.decode("utf-8", "replace"), self.changed)


def _compile(source: str | None, owner: TemplateOwner | None, key: str) -> MqttTemplate | None:
    if source is None:
        return None
    return MqttTemplate(source) if owner is None else EntityTemplate(source, owner, key)


NONE = Availability({})
"""The availability of every entity without availability topics: always available, never changes."""
