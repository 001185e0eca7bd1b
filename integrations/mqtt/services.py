"""The mqtt.publish service."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.core.services import ServiceCall
from hub.exceptions import ServiceValidationError, TemplateError
from integrations.mqtt.client import MqttClient
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


def register_services(hub: Hub, client: MqttClient) -> None:
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
        description={
            "name": "Publish",
            "description": "Publishes a message to an MQTT topic.",
            "fields": {
                "topic": {"description": "Topic to publish to.", "required": True},
                "payload": {"description": "The payload to publish."},
                "payload_template": {"description": "Template to render as the payload."},
                "evaluate_payload": {"description": "Send a bytes literal payload as raw bytes."},
                "qos": {"description": "Quality of Service (0, 1 or 2)."},
                "retain": {"description": "Whether the broker keeps the message."},
            },
        },
    )
