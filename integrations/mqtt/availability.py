"""Availability of a discovered entity: one topic or several, combined by all/any/latest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from integrations.mqtt.subscriptions import Message
from integrations.mqtt.templates import EntityTemplate, MqttTemplate, TemplateOwner

if TYPE_CHECKING:
    from integrations.mqtt.client import MqttClient


class _Topic:
    """One availability topic: its payloads, its template, what it said last, and its subscription's handler.

    One slotted object per topic (no status dict, no separate handler): thousands of entities
    hold one or more.
    """

    __slots__ = ("topic", "payload_available", "payload_not_available", "template", "status", "availability", "changed")

    def __init__(self, availability: Availability, topic: str, payload_available: str, payload_not_available: str,
                 template: MqttTemplate | None) -> None:
        self.availability = availability
        self.topic = topic
        self.payload_available = payload_available
        self.payload_not_available = payload_not_available
        self.template = template
        # Unknown (None) at first: with availability configured an entity is unavailable until
        # a device says otherwise.
        self.status: bool | None = None
        self.changed: Callable[[], None] | None = None  # set when subscribed

    def __call__(self, message: Message) -> None:
        """A message on this topic (the subscription's handler)."""
        if self.changed is not None:
            self.availability.received(self, message.payload.decode("utf-8", "replace"), self.changed)


class Availability:
    """Track the availability topics of one entity; `available` says what they add up to.

    Slotted, and `Availability.of(config, owner)` hands every entity without availability
    topics the same (unchanging) instance: thousands of entities hold one each.
    """

    __slots__ = ("mode", "_topics", "_latest")

    def __init__(self, config: Mapping[str, Any], owner: TemplateOwner | None = None) -> None:
        self.mode: str = config.get("availability_mode", "latest")
        topics: list[_Topic] = []
        if "availability_topic" in config:
            template = _compile(config.get("availability_template"), owner, "availability_template")
            topics.append(_Topic(self, config["availability_topic"], config["payload_available"], config["payload_not_available"],
                                 template))
        for item in config.get("availability") or ():
            template = _compile(item.get("value_template"), owner, "availability value_template")
            topics.append(_Topic(self, item["topic"], item["payload_available"], item["payload_not_available"], template))
        self._topics: tuple[_Topic, ...] = tuple(topics)
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
            return all(item.status for item in self._topics)
        if self.mode == "any":
            return any(item.status for item in self._topics)
        return bool(self._latest)

    def restore(self, available: bool) -> None:
        """Assume an availability remembered from before a restart, until a device says more."""
        if not self._topics:
            return  # (NONE is shared: it never changes)
        for item in self._topics:
            item.status = available
        self._latest = available

    def subscribe(self, client: MqttClient, qos: int, changed: Callable[[], None]) -> list[Callable[[], None]]:
        """Subscribe to every availability topic; call changed() when `available` changes."""
        undo = []
        for item in self._topics:
            item.changed = changed
            undo.append(client.subscribe(item.topic, item, qos))
        return undo

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
        for same in self._topics:  # (an entity may list one topic twice: one status per topic)
            if same.topic == item.topic:
                same.status = status
        self._latest = status
        if self.available != before:
            changed()


def _compile(source: str | None, owner: TemplateOwner | None, key: str) -> MqttTemplate | None:
    if source is None:
        return None
    return MqttTemplate(source) if owner is None else EntityTemplate(source, owner, key)


NONE = Availability({})
"""The availability of every entity without availability topics: always available, never changes."""
