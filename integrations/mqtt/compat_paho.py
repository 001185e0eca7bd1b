"""Every use of paho-mqtt's internals, checked against the installed paho-mqtt when this module is imported.

The paho backend (client_paho.py) goes through this module only. What it needs beyond paho's
public API, and why:

* The client's socket (`Client._sock`), wrapped in a buffered reader: paho reads each packet
  with several recv() calls (1 byte of type, the length byte by byte, then the body), which
  dominates its receive path at thousands of messages per second.
* A message's topic as bytes (`MQTTMessage._topic`), to log a topic that is not UTF-8.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt
from paho.mqtt.client import Client, MQTTMessage

from integrations.mqtt.compat import require

VERSION: str = getattr(paho.mqtt, "__version__", "unknown")
SUPPORTED = "2.x"

require("paho-mqtt", VERSION, SUPPORTED, Client, "_sock")
require("paho-mqtt", VERSION, SUPPORTED, MQTTMessage, "_topic")


def buffer_socket(client: Client) -> None:
    """Make the client's socket serve paho's small reads from one large read (once per socket)."""
    sock = getattr(client, "_sock", None)
    if sock is not None and not isinstance(sock, BufferedSocket) and hasattr(sock, "recv"):
        client._sock = BufferedSocket(sock)


def raw_topic(message: MQTTMessage) -> bytes:
    """Return a message's topic as received (paho's `topic` raises for one that is not UTF-8)."""
    topic: bytes = message._topic
    return topic


class BufferedSocket:
    """A socket whose recv() serves small reads from one large read.

    Its pending() makes aiomqtt's reader drain every buffered packet in one go (the path it
    uses for TLS), instead of one packet per readable event.
    """

    __slots__ = ("_sock", "_data", "_pos")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._data = b""
        self._pos = 0

    def recv(self, size: int) -> bytes:
        """Return up to size bytes, reading 64 KiB from the socket when the buffer is empty."""
        if self._pos >= len(self._data):
            data: bytes = self._sock.recv(65536)  # BlockingIOError and friends reach paho as before
            if not data:
                return data
            self._data, self._pos = data, 0
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    def pending(self) -> int:
        """Return the bytes readable without waiting (buffered here, and in a TLS socket)."""
        buffered = len(self._data) - self._pos
        inner = getattr(self._sock, "pending", None)
        return buffered + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


__all__ = ["SUPPORTED", "VERSION", "BufferedSocket", "buffer_socket", "raw_topic"]
