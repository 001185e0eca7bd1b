"""The connection to the broker: connect, reconnect with backoff, resubscribe, publish, dispatch.

Messages go from paho's socket callback straight to the subscription table, inline in the
event loop: no queue, no task and no message object beyond one small `Message` per message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from paho.mqtt.client import MQTTMessage

from integrations.mqtt.subscriptions import Message, MessageHandler, Subscriptions

_LOGGER = logging.getLogger(__name__)


class MqttClientError(Exception):
    """Publishing or subscribing failed (the broker is unreachable or refused it)."""


@dataclass(frozen=True, slots=True)
class PublishMessage:
    """A message the hub publishes (birth, will)."""

    topic: str
    payload: str
    qos: int = 0
    retain: bool = False


@dataclass(slots=True)
class ConnectionSettings:
    """Where and how to connect."""

    host: str
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = None
    client_id: str = "powerhub"
    keepalive: int = 60
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    tls_insecure: bool = False
    birth: PublishMessage | None = None
    will: PublishMessage | None = None
    reconnect_min: float = 1.0
    reconnect_max: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict)


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


class MqttClient:
    """Keep one connection to the broker for as long as the hub runs."""

    def __init__(
        self,
        settings: ConnectionSettings,
        on_connection_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.subscriptions = Subscriptions()
        self.connected = False
        self.messages_received = 0
        self._on_connection_change = on_connection_change
        self._client: _AiomqttClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._pending_subscribe: dict[str, int] = {}
        self._pending_unsubscribe: set[str] = set()
        self._flush_scheduled = False
        self._flushes: set[asyncio.Task[None]] = set()
        self._on_connect_callbacks: list[Callable[[], None]] = []
        self._connected_event = asyncio.Event()
        self._tls_context: ssl.SSLContext | None = None

    # ---- lifecycle ----

    async def start(self) -> None:
        """Start connecting in the background; returns at once, the broker may be down."""
        if self.settings.tls:
            # Loading certificates reads files: do it once, off the event loop.
            self._tls_context = await asyncio.get_running_loop().run_in_executor(None, self._make_tls_context)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mqtt connection")

    async def stop(self) -> None:
        """Say offline (the will, published cleanly), disconnect and stop reconnecting."""
        self._stopping = True
        client = self._client
        if client is not None and self.connected and self.settings.will is not None:
            will = self.settings.will
            try:
                await client.publish(will.topic, will.payload, will.qos, will.retain, timeout=1)
            except (aiomqtt.MqttError, asyncio.TimeoutError):
                pass
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._task = None

    async def wait_connected(self, timeout: float) -> bool:
        """Wait until connected (True) or timeout seconds passed (False)."""
        try:
            await asyncio.wait_for(self._connected_event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def on_connect(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call callback after every (re)connect, once subscriptions and birth are sent."""
        self._on_connect_callbacks.append(callback)
        return lambda: self._on_connect_callbacks.remove(callback)

    # ---- subscribing and publishing ----

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 0) -> Callable[[], None]:
        """Call handler (inline, must not block) for each message on topic_filter; return the undo.

        Broker subscriptions are batched: many calls in one loop iteration send one SUBSCRIBE.
        """
        before = self.subscriptions.qos_of(topic_filter)
        remove = self.subscriptions.add(topic_filter, handler, qos)
        # Subscribe again even when the filter is already subscribed: the broker then resends
        # the retained message, which the new handler has not seen (an availability topic
        # shared by all of a device's entities). Home Assistant re-subscribes the same way;
        # the handlers that already saw it get an identical message, which changes nothing.
        self._pending_unsubscribe.discard(topic_filter)
        self._pending_subscribe[topic_filter] = max(qos, before or 0, self._pending_subscribe.get(topic_filter, 0))
        self._schedule_flush()

        def unsubscribe() -> None:
            if remove():
                self._pending_subscribe.pop(topic_filter, None)
                self._pending_unsubscribe.add(topic_filter)
                self._schedule_flush()

        return unsubscribe

    async def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish a message; QoS 1/2 wait for the broker's acknowledgement.

        Raises:
            MqttClientError: not connected, or the broker did not acknowledge in time.
        """
        client = self._client
        if client is None or not self.connected:
            message = f"Cannot publish to {topic}: not connected to the MQTT broker"
            raise MqttClientError(message)
        try:
            await client.publish(topic, payload, qos, retain)
        except aiomqtt.MqttError as err:
            message = f"Publishing to {topic} failed: {err}"
            raise MqttClientError(message) from err

    def _schedule_flush(self) -> None:
        if self._flush_scheduled or not self.connected:
            return
        self._flush_scheduled = True
        asyncio.get_running_loop().call_soon(self._start_flush)

    def _start_flush(self) -> None:
        self._flush_scheduled = False
        if self.connected and (self._pending_subscribe or self._pending_unsubscribe):
            task = asyncio.get_running_loop().create_task(self._flush(), name="mqtt subscribe")
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def wait_subscribed(self) -> None:
        """Wait until the broker acknowledged every subscription asked for so far."""
        while self.connected and (self._flush_scheduled or self._flushes):
            if self._flushes:
                await asyncio.wait(set(self._flushes))
            else:
                await asyncio.sleep(0)

    async def _flush(self) -> None:
        client = self._client
        subscribe, self._pending_subscribe = self._pending_subscribe, {}
        unsubscribe, self._pending_unsubscribe = self._pending_unsubscribe, set()
        if client is None:
            return
        try:
            if unsubscribe:
                await client.unsubscribe(sorted(unsubscribe))
            await self._subscribe_many(client, subscribe)
        except aiomqtt.MqttError as err:
            # The next connect resubscribes everything from the table anyway.
            _LOGGER.warning("MQTT subscribe failed, retrying after reconnect: %s", err)

    async def _subscribe_many(self, client: _AiomqttClient, filters: dict[str, int]) -> None:
        items = sorted(filters.items())
        # Keep each SUBSCRIBE packet a sane size.
        for start in range(0, len(items), 500):
            await client.subscribe(items[start : start + 500])

    # ---- connection loop ----

    def _handle(self, paho_message: MQTTMessage) -> None:
        self.messages_received += 1
        try:
            topic = paho_message.topic
        except UnicodeDecodeError:
            _LOGGER.warning("Dropping MQTT message with a topic that is not UTF-8: %r", paho_message._topic)
            return
        self.subscriptions.dispatch(
            Message(topic, paho_message.payload, paho_message.qos, paho_message.retain, time.time())
        )

    def _new_client(self) -> _AiomqttClient:
        settings = self.settings
        will = None
        if settings.will is not None:
            will = aiomqtt.Will(settings.will.topic, settings.will.payload, settings.will.qos, settings.will.retain)
        return _AiomqttClient(
            self._handle,
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password,
            identifier=settings.client_id,
            clean_session=False,
            keepalive=settings.keepalive,
            will=will,
            tls_context=self._tls_context,
            max_inflight_messages=100,
            timeout=10,
        )

    def _make_tls_context(self) -> ssl.SSLContext:
        settings = self.settings
        context = ssl.create_default_context(cafile=settings.ca_certs)
        if settings.certfile:
            context.load_cert_chain(settings.certfile, settings.keyfile)
        if settings.tls_insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        if connected:
            self._connected_event.set()
        else:
            self._connected_event.clear()
        if self._on_connection_change is not None:
            try:
                self._on_connection_change(connected)
            except Exception:  # noqa: BLE001 - a status listener must not stop the connection
                _LOGGER.exception("Error in MQTT connection listener")

    async def _run(self) -> None:
        settings = self.settings
        attempt = 0
        where = f"{'mqtts' if settings.tls else 'mqtt'}://{settings.host}:{settings.port}"
        while not self._stopping:
            client = self._new_client()
            self._client = client
            try:
                async with client:
                    attempt = 0
                    _LOGGER.info("Connected to MQTT broker %s as %s", where, settings.client_id)
                    await self._connected(client)
                    # Messages bypass aiomqtt's queue, so this only waits for the disconnect.
                    async for _ in client.messages:
                        pass
            except aiomqtt.MqttError as err:
                if self._stopping:
                    break
                level = logging.WARNING if self.connected or attempt == 0 else logging.DEBUG
                _LOGGER.log(level, "MQTT broker %s unreachable or disconnected: %s", where, err)
            finally:
                self._set_connected(False)
            attempt += 1
            # Exponential backoff with jitter, so that many hubs do not reconnect in step.
            delay = min(settings.reconnect_max, settings.reconnect_min * 2 ** min(attempt - 1, 16))
            delay *= random.uniform(0.5, 1.0)
            _LOGGER.info("Reconnecting to MQTT broker %s in %.1f s", where, delay)
            await asyncio.sleep(delay)

    async def _connected(self, client: _AiomqttClient) -> None:
        self._pending_subscribe.clear()
        self._pending_unsubscribe.clear()
        filters = self.subscriptions.filters()
        self._set_connected(True)
        if filters:
            await self._subscribe_many(client, filters)
        birth = self.settings.birth
        if birth is not None:
            await client.publish(birth.topic, birth.payload, birth.qos, birth.retain)
        for callback in list(self._on_connect_callbacks):
            try:
                callback()
            except Exception:  # noqa: BLE001
                _LOGGER.exception("Error in MQTT connect callback")
