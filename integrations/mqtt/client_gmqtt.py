"""The gmqtt backend of the MQTT client: an asyncio-native protocol, no thread and no lock per message.

gmqtt parses packets in an asyncio Protocol and calls back per PUBLISH; on loopback it receives
several times faster than paho, whose per-message Condition, logging checks and byte-wise reads
dominate there. Reconnecting, resubscribing and the session stay with the shared client, so
gmqtt's own reconnect loop is switched off and each connection is a fresh gmqtt client.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

import gmqtt
from gmqtt.mqtt.constants import MQTTv311

from hub.logfilter import one_line_warnings
from integrations.mqtt import compat_gmqtt
from integrations.mqtt.acks import DeferredAcks, Durable
from integrations.mqtt.client import ConnectionSettings, MqttClientError
from integrations.mqtt.subscriptions import Message

_LOGGER = logging.getLogger(__name__)
# A lost connection and a topic that is not UTF-8 are warnings with a traceback in gmqtt.
one_line_warnings("gmqtt.client", "gmqtt.mqtt.protocol", "gmqtt.mqtt.handler", "gmqtt.mqtt.connection")

# A broker that accepts the TCP connection but never answers CONNECT must not stall the loop.
CONNECT_TIMEOUT = 10.0
# Bytes parsed per loop callback at most (about 100 readings): a backlog is worked off in
# slices of a few ms, between which WebSocket writers, timers and the recorder run.
READ_SLICE = 4096
# MQTT 3.1.1 acknowledgements of a received PUBLISH, by its QoS: PUBACK (1) and PUBREC (2).
_ACK_HEADER = {1: b"\x40\x02", 2: b"\x50\x02"}


class GmqttConnection:
    """One connection to the broker through gmqtt (MQTT 3.1.1, persistent session)."""

    def __init__(
        self,
        settings: ConnectionSettings,
        tls_context: ssl.SSLContext | None,
        deliver: Callable[[Message], Durable | None],
        durable: Durable | None = None,
    ) -> None:
        self._settings = settings
        self._tls = tls_context
        self._deliver = deliver
        self.acks = DeferredAcks(durable, self._send_acks)
        will = settings.will
        self._client = compat_gmqtt.Client(
            self._acked,
            client_id=settings.client_id,
            clean_session=False,  # keep the broker-side session (and its QoS 1 queue)
            will_message=gmqtt.Message(will.topic, will.payload, will.qos, will.retain) if will else None,
        )
        if settings.username is not None:
            self._client.set_auth_credentials(settings.username, settings.password)
        # The hot path. gmqtt's PUBLISH handler spends more time than our whole dispatch on
        # things a 3.1.1 message without properties does not need: struct formats built per
        # packet, a properties dict, two debug-log calls, and an inspect.iscoroutinefunction()
        # to decide how to call on_message. And it acknowledges before the message is handled.
        # So PUBLISHes are parsed here, and acknowledged once what they wrote is durable.
        self._client.parse_publishes_with(self._handle_publish)
        self._client.slice_reads(READ_SLICE)
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_unsubscribe = self._on_unsubscribe
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._opened = False

    # ---- callbacks from gmqtt (inline, in the event loop) ----

    def _handle_publish(self, cmd: int, packet: bytes) -> None:
        qos = (cmd >> 1) & 3
        end = 2 + ((packet[0] << 8) | packet[1])
        topic = packet[2:end]
        packet_id = 0
        if qos:
            packet_id = (packet[end] << 8) | packet[end + 1]
            end += 2
        try:
            text = topic.decode()
        except UnicodeDecodeError:
            text = ""
        barrier = None
        if not text:
            _LOGGER.warning("Dropping MQTT message with an empty or non-UTF-8 topic: %r", topic)
        else:
            barrier = self._deliver(Message(text, packet[end:], qos, bool(cmd & 1), time.time()))
        if qos:
            self.acks.hold(packet_id, qos, barrier)

    def _send_acks(self, items: list[tuple[int, int]]) -> None:
        if self._lost.done() or not self._opened:
            return
        self._client.send_raw(b"".join(_ACK_HEADER[qos] + packet_id.to_bytes(2, "big") for packet_id, qos in items))

    def _on_disconnect(self, client: Any, packet: Any, exc: Any = None) -> None:
        if not self._lost.done():
            self._lost.set_result(None)
        self.acks.close()
        error = MqttClientError("connection to the broker lost before it acknowledged")
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: a caller that gave up must not leave a loop error

    def _resolve(self, mid: int, result: Any) -> None:
        future = self._waiting.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(result)

    def _acked(self, mid: int) -> None:
        self._resolve(mid, None)

    def _on_subscribe(self, client: Any, mid: int, granted: tuple[int, ...], properties: Any) -> None:
        self._resolve(mid, granted)

    def _on_unsubscribe(self, client: Any, mid: int, granted: Any) -> None:
        self._resolve(mid, granted)

    async def _wait_ack(self, mid: int, what: str, timeout: float) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._waiting[mid] = future
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            message = f"the broker did not acknowledge the {what} within {timeout:g} s"
            raise MqttClientError(message) from None
        finally:
            self._waiting.pop(mid, None)

    # ---- the Connection interface ----

    async def open(self) -> None:
        """Connect and wait for a successful CONNACK (or the connection's loss)."""
        settings = self._settings
        connect = asyncio.ensure_future(
            self._client.connect(
                settings.host, settings.port, ssl=self._tls or False, keepalive=settings.keepalive, version=MQTTv311
            )
        )
        try:
            done, _ = await asyncio.wait({connect, self._lost}, timeout=CONNECT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            connect.cancel()
            raise
        if connect not in done:
            connect.cancel()
            reason = "closed by the broker" if self._lost.done() else f"no CONNACK within {CONNECT_TIMEOUT:g} s"
            message = f"connecting failed: {reason}"
            raise MqttClientError(message)
        try:
            connect.result()
        except gmqtt.MQTTConnectError as err:
            raise MqttClientError(str(err)) from err
        self._opened = True

    async def wait_closed(self) -> None:
        """Return when the connection is lost."""
        await asyncio.shield(self._lost)

    async def close(self) -> None:
        """Send DISCONNECT and close the socket if still connected; safe to repeat."""
        self.acks.close()
        client = self._client
        if not client.has_transport:
            return
        if self._opened and not self._lost.done():
            self._opened = False
            await client.disconnect()
        else:
            # Lost or never completed: stop gmqtt's keepalive timer and the transport, no packets.
            await client.drop_transport()

    async def subscribe(self, items: list[tuple[str, int]]) -> None:
        """Send one SUBSCRIBE and wait for its SUBACK; refused filters are logged."""
        self._check()
        granted = await self._wait_ack(self._client.send_subscribe(items), "SUBSCRIBE", 10)
        for (topic, _qos), code in zip(items, granted or (), strict=False):
            if code >= 0x80:
                _LOGGER.warning("The MQTT broker refused the subscription to %s", topic)

    async def unsubscribe(self, filters: list[str]) -> None:
        """Send one UNSUBSCRIBE and wait for its UNSUBACK."""
        self._check()
        await self._wait_ack(self._client.send_unsubscribe(filters), "UNSUBSCRIBE", 10)

    async def publish(self, topic: str, payload: str | bytes, qos: int, retain: bool, timeout: float = 10) -> None:
        """Publish; QoS 1/2 return once the broker acknowledged."""
        self._check()
        mid = self._client.publish_with_id(gmqtt.Message(topic, payload, qos=qos, retain=retain))
        if mid is not None:
            await self._wait_ack(mid, "PUBLISH", timeout)

    def _check(self) -> None:
        if self._lost.done() or not self._opened:
            raise MqttClientError("not connected to the broker")
