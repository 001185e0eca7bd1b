"""The paho-mqtt backend (through aiomqtt's asyncio socket handling) of the MQTT client.

Messages go from paho's socket callback straight to the client's dispatcher: no aiomqtt queue,
no task and no message object beyond one small `Message` per message.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable

import aiomqtt
from paho.mqtt.client import MQTTMessage

from integrations.mqtt import compat_aiomqtt, compat_paho
from integrations.mqtt.acks import DeferredAcks, Durable
from integrations.mqtt.client import ConnectionSettings, MqttClientError
from integrations.mqtt.subscriptions import Message

_LOGGER = logging.getLogger(__name__)


class _AiomqttClient(compat_aiomqtt.Client):
    """aiomqtt's client, messages handed straight over, reading its socket through a buffer."""

    async def __aenter__(self) -> _AiomqttClient:
        await super().__aenter__()
        # aiomqtt's reader handles one packet per readable event, and paho reads each packet
        # with several recv() calls; a buffered socket turns that into one recv() per 64 KiB.
        compat_paho.buffer_socket(self.paho_client)
        return self


class PahoConnection:
    """One connection to the broker through aiomqtt/paho (MQTT 3.1.1, persistent session)."""

    def __init__(
        self,
        settings: ConnectionSettings,
        tls_context: ssl.SSLContext | None,
        deliver: Callable[[Message], Durable | None],
        durable: Durable | None = None,
    ) -> None:
        self._deliver = deliver
        self.acks = DeferredAcks(durable, self._send_acks)
        will = None
        if settings.will is not None:
            will = aiomqtt.Will(settings.will.topic, settings.will.payload, settings.will.qos, settings.will.retain)
        self._client = _AiomqttClient(
            self._handle,
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password,
            identifier=settings.client_id,
            clean_session=False,
            keepalive=settings.keepalive,
            will=will,
            tls_context=tls_context,
            max_inflight_messages=100,
            timeout=10,
        )
        # paho acknowledges a QoS 1 message when our callback returns; we do it once it is durable.
        # (A QoS 2 message paho acknowledges with PUBREC on arrival and hands over at PUBREL: its
        # PUBCOMP waits here, but between the two the message lives only in paho's memory.)
        self._client.paho_client.manual_ack_set(True)
        self._open = False

    def _handle(self, paho_message: MQTTMessage) -> None:
        try:
            topic = paho_message.topic
        except UnicodeDecodeError:
            _LOGGER.warning("Dropping MQTT message with a topic that is not UTF-8: %r", compat_paho.raw_topic(paho_message))
            if paho_message.qos:
                self.acks.hold(paho_message.mid, paho_message.qos)
            return
        payload = paho_message.payload
        if isinstance(payload, bytearray):  # paho types it `bytes | bytearray`; a received PUBLISH carries bytes
            payload = bytes(payload)
        qos = paho_message.qos
        barrier = self._deliver(Message(topic, payload, qos, paho_message.retain, time.time()))
        if qos:
            self.acks.hold(paho_message.mid, qos, barrier)

    def _send_acks(self, items: list[tuple[int, int]]) -> None:
        if not self._open:
            return
        paho_client = self._client.paho_client
        for packet_id, qos in items:
            paho_client.ack(packet_id, qos)

    async def open(self) -> None:
        """Connect and wait for the broker's CONNACK."""
        try:
            await self._client.__aenter__()
        except aiomqtt.MqttError as err:
            raise MqttClientError(str(err)) from err
        self._open = True

    async def wait_closed(self) -> None:
        """Return (raising MqttClientError) when the connection is lost."""
        try:
            # Messages bypass aiomqtt's queue, so this only waits for the disconnect.
            async for _ in self._client.messages:
                pass
        except aiomqtt.MqttError as err:
            raise MqttClientError(str(err)) from err
        finally:
            self.acks.close()

    async def close(self) -> None:
        """Disconnect if connected; safe to call more than once."""
        self.acks.close()
        if self._open:
            self._open = False
            try:
                await self._client.__aexit__(None, None, None)
            except aiomqtt.MqttError:
                pass  # already gone

    async def subscribe(self, items: list[tuple[str, int]]) -> None:
        """Send one SUBSCRIBE and wait for its SUBACK."""
        try:
            await self._client.subscribe(items)
        except aiomqtt.MqttError as err:
            raise MqttClientError(str(err)) from err

    async def unsubscribe(self, filters: list[str]) -> None:
        """Send one UNSUBSCRIBE and wait for its UNSUBACK."""
        try:
            await self._client.unsubscribe(filters)
        except aiomqtt.MqttError as err:
            raise MqttClientError(str(err)) from err

    async def publish(self, topic: str, payload: str | bytes, qos: int, retain: bool, timeout: float = 10) -> None:
        """Publish; QoS 1/2 return once the broker acknowledged."""
        try:
            await self._client.publish(topic, payload, qos, retain, timeout=timeout)
        except aiomqtt.MqttError as err:
            raise MqttClientError(str(err)) from err
