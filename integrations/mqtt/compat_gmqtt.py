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
* The received byte stream split into packets by our own reader (the protocol's `_read_packet`,
  which gmqtt's read loop looks up on the instance): a PUBLISH goes straight to our function,
  the other packets to gmqtt's handler as before (`_connection.put_package`). gmqtt built a
  `Package` per packet and passed it through four calls and a debug-log call before ours.
* Reads in slices that yield to the event loop (the connection's protocol's `read`, which
  gmqtt's read loop looks up on the instance): gmqtt reads 64 KiB at a time and reads again
  without yielding while data is buffered, so after any stall (a busy machine, a slow
  callback) it handled up to the whole 256 KiB socket read, 6,000 readings and 100s of ms,
  in one loop callback; the WebSocket writers could not send meanwhile and their clients were
  cut off as laggards. The packet reader says how much to read next: a slice, or the rest of
  a packet larger than a slice, read whole.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import gmqtt
from gmqtt.mqtt.connection import MQTTConnection
from gmqtt.mqtt.handler import MqttPackageHandler
from gmqtt.mqtt.package import Package
from gmqtt.mqtt.protocol import BaseMQTTProtocol, MQTTProtocol
from gmqtt.storage import PersistentStorage

from integrations.mqtt.compat import require

_LOGGER = logging.getLogger(__name__)
VERSION: str = getattr(gmqtt, "__version__", "unknown")
SUPPORTED = "0.8.x"

PacketHandler = Callable[[int, bytes], None]

for _owner, _names in (
    (gmqtt.Client, ("_package_handler", "_connection", "_persistent_storage", "_is_active", "_remove_message_from_queue",
                    "_create_connection")),
    (MqttPackageHandler, ("_handle_publish_packet",)),
    (MQTTConnection, ("publish", "subscribe", "unsubscribe", "close", "send_package", "put_package", "_protocol")),
    (BaseMQTTProtocol, ("read",)),
    (MQTTProtocol, ("_read_packet", "_read_loop")),
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
        """Hand every PUBLISH packet to handler(cmd, packet) from now on; it acknowledges them itself.

        Call before connect: the connection's packet reader calls handler directly.
        """
        self._package_handler._handle_publish_packet = handler
        self._on_publish = handler

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
        reading a 1 MB payload in 4 KiB slices would copy it 250 times.
        """
        self._read_slice = size

    async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
        connection = await super()._create_connection(*args, **kwargs)
        on_publish = getattr(self, "_on_publish", None)
        if on_publish is not None:
            _read_packets(connection._protocol, connection, on_publish, getattr(self, "_read_slice", 0))
        return connection

    @property
    def has_transport(self) -> bool:
        """Whether a connection to the broker was opened (and not yet dropped)."""
        return self._connection is not None

    async def drop_transport(self) -> None:
        """Stop the keepalive timer and close the socket without sending anything."""
        self._is_active = False
        await self._connection.close()


def _read_packets(protocol: Any, connection: Any, on_publish: PacketHandler, size: int) -> None:
    """Give a fresh protocol (nothing received yet) our packet reader and, with size, sliced reads."""
    reader = PacketReader(on_publish, connection.put_package, size or 65536)

    def read_packet(data: bytes) -> int:
        if connection._handler.current_connection is not connection:
            reader.publish = None  # superseded: gmqtt's put_package drops what still arrives
        connection._last_data_in = time.monotonic()  # gmqtt's keepalive, as its put_package set it
        return reader.parse(data)

    protocol._read_packet = read_packet
    if not size:
        return
    read: Callable[[int], Awaitable[bytes]] = protocol.read
    full = [False]

    async def sliced(n: int = -1) -> bytes:
        if full[0]:
            # The last read filled its slice, so more is buffered and the next read would not
            # wait: let the loop run other callbacks first.
            await asyncio.sleep(0)
        want = reader.want
        data = await read(want if n < 0 else min(n, want))
        full[0] = len(data) >= want
        return data

    protocol.read = sliced


class PacketReader:
    """Split received bytes into MQTT packets: each PUBLISH to publish(cmd, body), others to gmqtt.

    `parse` takes everything received and not yet consumed and returns how many bytes it
    consumed (whole packets), or -1 for a remaining length over MQTT's 4 bytes (gmqtt then drops
    the connection). `want` is how much to read next: a slice, or the rest of a packet larger
    than a slice.
    """

    __slots__ = ("publish", "_other", "_size", "want")

    def __init__(self, publish: PacketHandler | None, other: Callable[[Package], None], size: int) -> None:
        self.publish = publish
        self._other = other
        self._size = size
        self.want = size

    def parse(self, data: bytes) -> int:
        """Hand on every whole packet in data; return the bytes consumed (-1: malformed)."""
        total = len(data)
        pos = 0
        publish, other = self.publish, self._other
        self.want = self._size
        while total - pos >= 2:
            # Fixed header: one type byte, then the remaining length in 1-4 bytes of 7 bits.
            byte = data[pos + 1]
            if byte < 0x80:
                start = pos + 2
                end = start + byte
            else:
                length, shift, index = byte & 0x7F, 7, pos + 2
                while True:
                    if index >= total:
                        return pos  # the length is not complete yet
                    byte = data[index]
                    length |= (byte & 0x7F) << shift
                    index += 1
                    if byte < 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        return -1
                start = index
                end = start + length
            if end > total:
                if end - pos > self._size:
                    self.want = max(self._size, end - total)  # the rest of a large packet, in one read
                return pos
            cmd = data[pos]
            try:
                if cmd & 0xF0 == 0x30 and publish is not None:
                    publish(cmd, data[start:end])
                else:
                    other(Package(cmd, data[start:end]))
            except Exception:
                _LOGGER.exception("Error handling an MQTT packet of type %#x", cmd)
            pos = end
        return pos


__all__ = ["SUPPORTED", "VERSION", "Client", "PacketHandler", "PacketReader"]
