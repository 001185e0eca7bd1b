"""Every use of gmqtt's internals, checked against the installed gmqtt when this module is imported.

The gmqtt backend (client_gmqtt.py) goes through this module only. What it needs beyond gmqtt's
public API, and why:

* PUBLISH packets parsed by our own function: gmqtt's handler spends more time per message than
  our whole dispatch on things a 3.1.1 message without properties does not need, and it
  acknowledges a message before it is handled. Its package handler looks
  `_handle_publish_packet` up by name on the instance, so that attribute is replaced per client;
  our function sends the PUBACKs (PUBRECs) itself, once the messages are durable, as raw
  packets through the connection (`_connection.send_package`).
* Packet ids of PUBLISH, SUBSCRIBE and UNSUBSCRIBE, so that each call waits for its own
  acknowledgement: gmqtt's publish() returns nothing, so the packet is built through its
  connection (`_connection`) and stored for QoS 1/2 resends (`_persistent_storage`) as
  gmqtt's publish() does; `_remove_message_from_queue` is where gmqtt learns of a PUBACK.
* A half-open connection closed without sending DISCONNECT (`_is_active`, `_connection.close()`).
* Reads in slices that yield to the event loop (the connection's protocol's `read`, which
  gmqtt's read loop looks up on the instance): gmqtt reads 64 KiB at a time and reads again
  without yielding while data is buffered, so after any stall (a busy machine, a slow
  callback) it handled up to the whole 256 KiB socket read, 6,000 readings and 100s of ms,
  in one loop callback; the WebSocket writers could not send meanwhile and their clients were
  cut off as laggards.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import gmqtt
from gmqtt.mqtt.connection import MQTTConnection
from gmqtt.mqtt.handler import MqttPackageHandler
from gmqtt.mqtt.protocol import BaseMQTTProtocol
from gmqtt.storage import PersistentStorage

from integrations.mqtt.compat import require

VERSION: str = getattr(gmqtt, "__version__", "unknown")
SUPPORTED = "0.8.x"

PacketHandler = Callable[[int, bytes], None]

for _owner, _names in (
    (gmqtt.Client, ("_package_handler", "_connection", "_persistent_storage", "_is_active", "_remove_message_from_queue",
                    "_create_connection")),
    (MqttPackageHandler, ("_handle_publish_packet",)),
    (MQTTConnection, ("publish", "subscribe", "unsubscribe", "close", "send_package", "_protocol")),
    (BaseMQTTProtocol, ("read", "data_received")),
    (PersistentStorage, ("push_message",)),
):
    require("gmqtt", VERSION, SUPPORTED, _owner, *_names)


class Client(gmqtt.Client):  # type: ignore[misc]  # gmqtt ships no type information, so its Client is Any
    """gmqtt's client without its own reconnecting, telling us about acks by packet id."""

    def __init__(self, on_acked: Callable[[int], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_acked = on_acked

    async def reconnect(self, delay: bool = False) -> None:
        """Do nothing: the shared client reconnects, with backoff and jitter."""
        # gmqtt reconnects after a fixed delay by itself; a lost connection must only end this one.
        return

    def _remove_message_from_queue(self, mid: int) -> None:
        # Called on PUBACK/PUBCOMP: the QoS 1/2 publish with this id is acknowledged.
        super()._remove_message_from_queue(mid)
        self._on_acked(mid)

    def parse_publishes_with(self, handler: PacketHandler) -> None:
        """Hand every PUBLISH packet to handler(cmd, packet) from now on; it acknowledges them itself."""
        self._package_handler._handle_publish_packet = handler

    def send_raw(self, data: bytes) -> None:
        """Write packets the caller encoded (acknowledgements, many in one write)."""
        self._connection.send_package(data)

    def publish_with_id(self, message: gmqtt.Message) -> int | None:
        """Send a PUBLISH and return its packet id (gmqtt's publish() returns nothing)."""
        mid, package = self._connection.publish(message)
        if message.qos > 0:
            self._persistent_storage.push_message(mid, package)
        return int(mid) if mid is not None else None

    def send_subscribe(self, items: list[tuple[str, int]]) -> int:
        """Send one SUBSCRIBE; bypasses gmqtt's own list of subscriptions, which only grows."""
        return int(self._connection.subscribe([gmqtt.Subscription(topic, qos=qos) for topic, qos in items]))

    def send_unsubscribe(self, filters: list[str]) -> int:
        """Send one UNSUBSCRIBE and return its packet id."""
        # Encoded here: gmqtt sizes a str topic by characters, which is wrong for non-ASCII.
        return int(self._connection.unsubscribe([topic.encode() for topic in filters]))

    def slice_reads(self, size: int) -> None:
        """Read at most size bytes at a time and yield to the loop between full reads (call before connect).

        A packet larger than a slice is read whole: gmqtt appends every read to its buffer, so
        reading a 1 MB payload in 4 KiB slices would copy it 250 times. Where packets end is
        followed from every byte received, so each connection is wrapped before its CONNECT.
        """
        self._read_slice = size

    async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
        connection = await super()._create_connection(*args, **kwargs)
        size = getattr(self, "_read_slice", 0)
        if size:
            _slice_reads(connection._protocol, size)
        return connection

    @property
    def has_transport(self) -> bool:
        """Whether a connection to the broker was opened (and not yet dropped)."""
        return self._connection is not None

    async def drop_transport(self) -> None:
        """Stop the keepalive timer and close the socket without sending anything."""
        self._is_active = False
        await self._connection.close()


def _slice_reads(protocol: Any, size: int) -> None:
    """Wrap a fresh protocol (nothing received yet): sliced reads, packet ends from data_received."""
    read: Callable[[int], Awaitable[bytes]] = protocol.read
    received: Callable[[bytes], None] = protocol.data_received
    stream = PacketBoundaries(size)
    full = [False]

    def data_received(data: bytes) -> None:
        stream.feed(data)
        received(data)

    async def sliced(n: int = -1) -> bytes:
        if full[0]:
            # The last read filled its slice, so more is buffered and the next read would not
            # wait: let the loop run other callbacks first.
            await asyncio.sleep(0)
        want = stream.next_read(size)
        data = await read(want if n < 0 else min(n, want))
        full[0] = len(data) >= want
        stream.consumed += len(data)
        return data

    protocol.data_received = data_received
    protocol.read = sliced


class PacketBoundaries:
    """Follow MQTT packet boundaries in the received byte stream; remember where large packets lie."""

    __slots__ = ("remaining", "consumed", "_received", "_large", "_threshold", "_header")

    def __init__(self, threshold: int = 4096) -> None:
        self.remaining = 0  # bytes of the packet being received not seen yet (0: at a boundary)
        self.consumed = 0  # bytes handed to the reader so far
        self._received = 0  # bytes received so far
        self._threshold = threshold
        self._large: deque[tuple[int, int]] = deque()  # (start, end) offsets of packets over threshold
        self._header = b""  # the start of a fixed header split across chunks

    def next_read(self, size: int) -> int:
        """Return how much to read next: size, or the rest of a large packet the reader is inside."""
        large, at = self._large, self.consumed
        while large and large[0][1] <= at:
            large.popleft()
        if large and large[0][0] <= at:
            return max(size, large[0][1] - at)
        return size

    def feed(self, data: bytes) -> None:
        """Account for data, the next bytes received."""
        pos, end = 0, len(data)
        base = self._received
        self._received += end
        while pos < end:
            if self.remaining:
                take = min(self.remaining, end - pos)
                self.remaining -= take
                pos += take
                continue
            start = base + pos - len(self._header)
            header = self._header + data[pos : pos + 5 - len(self._header)]
            # Fixed header: one type byte, then the remaining length in 1-4 bytes of 7 bits.
            length, multiplier, index = 0, 1, 1
            while index < len(header):
                byte = header[index]
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                index += 1
                if not byte & 0x80:
                    break
            else:
                # The length is not complete yet: keep what there is for the next chunk.
                self._header = header
                return
            pos += index - len(self._header)
            self._header = b""
            self.remaining = length
            if index + length > self._threshold:
                self._large.append((start, start + index + length))


__all__ = ["SUPPORTED", "VERSION", "Client", "PacketBoundaries", "PacketHandler"]
