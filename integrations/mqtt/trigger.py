"""The `mqtt` automation trigger: a topic (wildcards allowed), an optional payload and value_template.

    triggers:
      - trigger: mqtt
        topic: "tele/+/SENSOR"
        value_template: "{{ value_json.ENERGY.Power > 2000 }}"
        payload: "True"
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from hub import payload_json
from hub.core.runtime import HubKey
from hub.exceptions import HubError, TemplateError
from integrations.mqtt.subscriptions import Message, valid_filter
from integrations.mqtt.templates import MqttTemplate

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from integrations.mqtt.client import MqttClient

_LOGGER = logging.getLogger(__name__)
_NO_MATCH: Any = object()

# Automations may attach before the MQTT integration has set up (setup order is by name);
# their subscriptions wait here and are made as soon as the client exists.
_Pending = list[list[Any]]
PENDING_TRIGGERS: HubKey[_Pending] = HubKey("mqtt.pending_triggers")


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Subscribe one mqtt trigger; return its detach.

    Raises:
        HubError: the topic is not a valid MQTT topic filter, or value_template does not compile.
    """
    render = info.get("render") or (lambda value: value)
    topic = _limited(render, config["topic"])
    if not isinstance(topic, str) or not valid_filter(topic):
        message = f"mqtt trigger: invalid topic {topic!r}"
        raise HubError(message)
    wanted = config.get("payload")
    if wanted is not None:
        wanted = str(_limited(render, wanted))
    template = None
    if config.get("value_template") is not None:
        try:
            template = MqttTemplate(str(config["value_template"]), hub)
        except TemplateError as err:
            raise HubError(f"mqtt trigger: {err}") from err
    encoding = config.get("encoding", "utf-8") or None
    qos = int(config.get("qos", 0))

    def received(message: Message) -> None:
        payload: Any = message.payload.decode(encoding, "replace") if encoding else message.payload
        compared = payload
        if template is not None:
            compared = template.render_value(payload, default=_NO_MATCH)
            if compared is _NO_MATCH:
                return
        if wanted is not None and str(compared) != wanted:
            return
        data: dict[str, Any] = {"topic": message.topic, "payload": payload, "qos": message.qos}
        try:
            data["payload_json"] = payload_json.loads(payload)
        except (orjson.JSONDecodeError, TypeError):
            pass
        action(data)

    from integrations.mqtt import runtime_of

    runtime = runtime_of(hub)
    if runtime is not None:
        return runtime.client.subscribe(topic, received, qos)
    item: list[Any] = [topic, received, qos, None]
    pending = hub.runtime.setdefault(PENDING_TRIGGERS, list)
    pending.append(item)

    def detach() -> None:
        if item in pending:
            pending.remove(item)
        elif item[3] is not None:
            item[3]()
            item[3] = None

    return detach


def bind_pending(hub: Hub, client: MqttClient) -> None:
    """Make the subscriptions of triggers that attached before the client existed."""
    items = hub.runtime.pop(PENDING_TRIGGERS, [])
    for item in items:
        item[3] = client.subscribe(item[0], item[1], item[2])
    items.clear()  # detach() now unsubscribes instead of dropping a pending item


def _limited(render: Callable[[Any], Any], value: Any) -> Any:
    return render(value) if isinstance(value, str) and "{" in value else value
