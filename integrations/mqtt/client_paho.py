"""The paho-mqtt backend (through aiomqtt's asyncio socket handling) of the MQTT client.

Messages go from paho's socket callback straight to the client's dispatcher: no aiomqtt queue,
no task and no message object beyond one small `Message` per message.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

import aiomqtt
from paho.mqtt.client import MQTTMessage

from integrations.mqtt.client import ConnectionSettings, MqttClientError
from integrations.mqtt.subscriptions import Message

_LOGGER = logging.getLogger(__name__)


class _AiomqttClient(aiomqtt.Client):
    """aiomqtt's client with paho's message callback routed to one function.

    aiomqtt's own path wraps every message (Message and Topic objects with validation), queues
    it, and its iterator creates a task per message; at thousands of messages per second that
    overhead is most of the work, so messages are handed over here instead.
    """

    def __init__(self, on_message: Callable[[MQTTMessage], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._deliver = on_message

    def _on_message(self, client: Any, userdata: Any, message: MQTTMessage) -> None:
        self._deliver(message)

    async def __aenter__(self) -> _AiomqttClient:
        await super().__aenter__()
        # paho reads each packet with several recv() calls (1 byte of type, the length byte by
        # byte, then the body) and aiomqtt's reader handles one packet per readable event. A
        # buffered socket turns that into one recv() per 64 KiB, and its pending() makes
        # aiomqtt's reader drain every buffered packet in one go (the path it uses for TLS).
        sock = getattr(self._client, "_sock", None)
        if sock is not None and not isinstance(sock, _BufferedSocket) and hasattr(sock, "recv"):
            self._client._sock = _BufferedSocket(sock)
        return self


class _BufferedSocket:
    """A socket whose recv() serves small reads from one large read."""

    __slots__ = ("_sock", "_data", "_pos")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._data = b""
        self._pos = 0

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._data):
            data = self._sock.recv(65536)  # BlockingIOError and friends reach paho as before
            if not data:
                return data
            self._data, self._pos = data, 0
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    def pending(self) -> int:
        buffered = len(self._data) - self._pos
        inner = getattr(self._sock, "pending", None)
        return buffered + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class PahoConnection:
    """One connection to the broker through aiomqtt/paho (MQTT 3.1.1, persistent session)."""

    def __init__(
        self, settings: ConnectionSettings, tls_context: ssl.SSLContext | None, deliver: Callable[[Message], None]
    ) -> None:
        self._deliver = deliver
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
        self._open = False

    def _handle(self, paho_message: MQTTMessage) -> None:
        try:
            topic = paho_message.topic
        except UnicodeDecodeError:
            _LOGGER.warning("Dropping MQTT message with a topic that is not UTF-8: %r", paho_message._topic)
            return
        self._deliver(Message(topic, paho_message.payload, paho_message.qos, paho_message.retain, time.time()))

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

    async def close(self) -> None:
        """Disconnect if connected; safe to call more than once."""
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
