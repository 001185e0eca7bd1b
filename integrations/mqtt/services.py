"""The mqtt.publish service.

Publishing where the hub or a device listens for orders is for admins: a `user` could
otherwise plant a discovery config (an entity with any template, or one that replaces a
device's) or drive a device around its command policy. Reserved topics are everything under
the discovery prefix and the command topics of every MQTT entity the hub knows; a `user`
controls those devices through their entities' services. Calls without a user (automations,
scripts, integrations) are configured by admins and are not restricted: the API checks a
user's own call through the service's `authorize` (hub.core.services).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.core.services import ServiceCall
from hub.exceptions import ServiceValidationError, TemplateError
from integrations.mqtt.client import MqttClient
from integrations.mqtt.entity import MqttEntity
from integrations.mqtt.schemas import boolean, publish_topic, string
from integrations.mqtt.templates import MqttTemplate

if TYPE_CHECKING:
    from hub.core.hub import Hub

PUBLISH_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required("topic"): publish_topic,
            vol.Exclusive("payload", "payload"): string,
            vol.Exclusive("payload_template", "payload"): string,
            vol.Optional("evaluate_payload", default=False): boolean,
            vol.Optional("qos", default=0): vol.All(vol.Coerce(int), vol.In([0, 1, 2])),
            vol.Optional("retain", default=False): boolean,
        }
    ),
)


def reserved_topic(hub: Hub, topic: str, discovery_prefix: str) -> str | None:
    """Say why a topic is reserved for admins (the discovery prefix, a device's command topic), else None."""
    if topic == discovery_prefix or topic.startswith(f"{discovery_prefix}/"):
        return f"'{topic}' is under the discovery prefix '{discovery_prefix}'"
    for entity in hub.entities:
        config = getattr(entity, "config", None)
        if not isinstance(entity, MqttEntity) or not isinstance(config, Mapping):
            continue  # an entity's validated config is a read-only Mapping (compact.Config)
        for key, value in config.items():
            if key.endswith("command_topic") and value == topic:
                return f"'{topic}' is the {key} of {entity.entity_id}"
    return None


def publish_refusal(hub: Hub, user: Any, data: Mapping[str, Any], discovery_prefix: str) -> str | None:
    """Say why a user may not publish this themselves: a reserved topic and not an admin."""
    topic = data.get("topic")
    if getattr(user, "is_admin", False) or not isinstance(topic, str):
        return None  # admins may; a missing or bad topic is the schema's to refuse
    reason = reserved_topic(hub, topic, discovery_prefix)
    return None if reason is None else f"{reason}: only admins may publish there"


def register_services(hub: Hub, client: MqttClient, discovery_prefix: str = "homeassistant") -> None:
    """Register mqtt.publish on the hub."""

    async def publish(call: ServiceCall) -> None:
        data = call.data
        payload: Any = data.get("payload", "")
        if "payload_template" in data:
            try:
                payload = MqttTemplate(data["payload_template"], hub).render_plain()
            except TemplateError as err:
                message = f"Unable to publish to {data['topic']}: rendering payload_template failed: {err}"
                raise ServiceValidationError(message) from err
        if data["evaluate_payload"] and isinstance(payload, str) and payload.startswith(("b'", 'b"')):
            try:
                literal = ast.literal_eval(payload)
            except (ValueError, SyntaxError):
                literal = None
            if isinstance(literal, bytes):
                payload = literal
        await client.publish(data["topic"], payload, data["qos"], data["retain"])  # MqttClientError is a HubError

    hub.services.register(
        "mqtt",
        "publish",
        publish,
        PUBLISH_SCHEMA,
        authorize=lambda user, data: publish_refusal(hub, user, data, discovery_prefix),
    )  # described in integrations/mqtt/services.yaml
