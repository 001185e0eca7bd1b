"""The MQTT integration's runtime API for other integrations: subscribe, publish, the connection.

Another integration gets it with `integrations.mqtt.api(hub)` (None when MQTT is not set up)
and uses nothing else of the MQTT integration's runtime:

    mqtt = api(hub)
    undo = mqtt.subscribe(f"{mqtt.topic_root}devices/+/telemetry", handle_message, qos=1)
    await mqtt.publish(f"{mqtt.topic_root}devices/node-1/relay1/set", "ON", qos=1)
    if mqtt.connected: ...
    undo_connect = mqtt.on_connect(send_what_waited)
    mqtt.broker.host, mqtt.broker.port

See docs/integrations.md, "Use MQTT from another integration".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from integrations.mqtt.client import MqttClientError
from integrations.mqtt.subscriptions import Message, MessageHandler

if TYPE_CHECKING:
    from integrations.mqtt.cache import DiscoveryEntry, DiscoveryStore
    from integrations.mqtt.client import MqttClient

__all__ = ["Broker", "Message", "MessageHandler", "MqttApi", "MqttClientError"]


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the hub's MQTT connection goes."""

    host: str
    port: int
    tls: bool = False

    @property
    def url(self) -> str:
        """Return the broker as a URL, e.g. `mqtt://127.0.0.1:1883`."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class MqttApi:
    """What other integrations may use of the hub's MQTT connection.

    One connection serves the whole hub; the integration keeps it up (reconnecting with
    backoff, resubscribing every filter), so subscriptions made here outlive reconnects.
    """

    __slots__ = ("_client", "_store", "broker", "discovery_prefix", "topic_root")

    broker: Broker
    """Where the connection goes (e.g. to point simulated devices at the same broker)."""
    discovery_prefix: str
    """The topic root of discovery configs (`homeassistant` unless configured)."""
    topic_root: str
    """What every device topic hangs under (`mqtt: topic_root:`): "" or words ending in "/", e.g.
    "home1/". Build device topics as `f"{topic_root}devices/{node_id}/..."`, never `devices/` alone."""

    def __init__(self, client: MqttClient, discovery_prefix: str, store: DiscoveryStore | None = None,
                 topic_root: str = "") -> None:
        self._client = client
        self._store = store
        settings = client.settings
        self.broker = Broker(settings.host, settings.port, settings.tls)
        self.discovery_prefix = discovery_prefix
        self.topic_root = topic_root

    @property
    def connected(self) -> bool:
        """Whether the hub is connected to the broker now."""
        return self._client.connected

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 0) -> Callable[[], None]:
        """Call handler for each message on topic_filter (wildcards allowed); return the undo.

        Args:
            topic_filter: an MQTT topic filter, e.g. `devices/+/telemetry`.
            handler: `handler(message: Message)`, called inline in the event loop for every
                message: it must not block or await (start a task for slow work). `message`
                has `topic`, `payload` (bytes), `qos`, `retain` and `timestamp`.
            qos: the QoS of the subscription (0, 1 or 2).

        Returns:
            The function that ends the subscription.
        """
        return self._client.subscribe(topic_filter, handler, qos)

    async def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish a message; with QoS 1 or 2, return once the broker acknowledged it.

        Raises:
            MqttClientError: not connected, or the broker did not acknowledge in time (a
                HubError: a service handler may let it through to its caller).
        """
        await self._client.publish(topic, payload, qos, retain)

    def on_connect(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call callback (inline, must not block) after every connect and reconnect; return the undo.

        It runs once the connection is up, every subscription was sent again and the birth
        message published: the moment to send what waited for the broker.
        """
        return self._client.on_connect(callback)

    async def discovery_configs(self) -> dict[str, DiscoveryEntry]:
        """Return the retained discovery configs the hub keeps, by topic (empty without storage).

        Each entry has `payload` (the JSON text as received), `component`, `discovery_id` and
        `updated_at`: what a device announced about itself, for pages that show it.
        """
        if self._store is None:
            return {}
        return await self._store.load_entries()
