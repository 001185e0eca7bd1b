"""`umqtt.simple.MQTTClient` on top of paho-mqtt, synchronous like the original.

No network thread: paho writes a publish at once when no loop thread runs, and `check_msg`
runs one non-blocking `loop()`; so a node's code runs exactly as on a device, one call at a time.
Failures raise OSError, as umqtt does.
"""

from __future__ import annotations

import ssl as _ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from firmware.sim import board as _board

_TIMEOUT = 5.0


class MQTTException(Exception):
    """The broker refused the connection (umqtt raises this with the CONNACK code)."""


class _Sock:
    """What umqtt exposes as `.sock`: the firmware closes it to drop a dead connection."""

    def __init__(self, client: MQTTClient) -> None:
        self._client = client

    def close(self) -> None:
        self._client.drop()


def _tls_context(fingerprint: str | None) -> _ssl.SSLContext:
    """Return a context that, like the firmware, checks the broker's certificate fingerprint
    right after the handshake (before paho sends the CONNECT with the password)."""
    from firmware import pinning

    class Pinned(_ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            if fingerprint:
                pinning.check(self.getpeercert(True), fingerprint)

    context = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = _ssl.CERT_NONE
    context.sslsocket_class = Pinned
    return context


class MQTTClient:
    def __init__(
        self,
        client_id: str,
        server: str,
        port: int = 0,
        user: str | None = None,
        password: str | None = None,
        keepalive: int = 0,
        ssl: Any = False,
        ssl_params: dict[str, Any] | None = None,
    ) -> None:
        self.board = _board.current()
        self.board.clients.append(self)
        self.client_id = client_id
        self.server = server
        self.port = port or 1883
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.cb: Callable[[bytes, bytes], None] | None = None
        self.sock: _Sock | None = None
        self._will: tuple[str, bytes, bool, int] | None = None
        self._paho: paho.Client | None = None
        self._inbox: deque[tuple[bytes, bytes]] = deque()
        self._connack: int | None = None
        self._subacks = 0

    def set_callback(self, f: Callable[[bytes, bytes], None]) -> None:
        self.cb = f

    def set_last_will(self, topic: str, msg: bytes | str, retain: bool = False, qos: int = 0) -> None:
        self._will = (topic, msg if isinstance(msg, bytes) else msg.encode(), retain, qos)

    def connect(self, clean_session: bool = True) -> int:
        self.drop()
        if not self.board.online:
            raise OSError(113, "EHOSTUNREACH (simulated Wi-Fi down)")
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=clean_session)
        if self.user:
            client.username_pw_set(self.user, self.password)
        if self._will:
            topic, msg, retain, qos = self._will
            client.will_set(topic, msg, qos, retain)
        if self.ssl:
            client.tls_set_context(_tls_context(getattr(self.ssl, "fingerprint", None)))
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._connack = None
        try:
            client.connect(self.server, self.port, self.keepalive or 60)
        except OSError:
            raise
        except Exception as err:  # paho raises ValueError/others for odd hosts
            raise OSError(str(err)) from err
        self._paho = client
        self.sock = _Sock(self)
        self._wait(lambda: self._connack is not None, "CONNACK")
        if self._connack:
            code = self._connack
            self.drop()
            raise MQTTException(code)
        return 0

    def disconnect(self) -> None:
        if self._paho is not None:
            self._paho.disconnect()
        self.drop()

    def drop(self) -> None:
        """Close the socket without DISCONNECT (the broker will publish the will)."""
        client, self._paho = self._paho, None
        self.sock = None
        if client is not None:
            sock = client.socket()
            if sock is not None:
                sock.close()

    def ping(self) -> None:
        return None  # paho sends PINGREQ from loop() when keepalive is due

    def publish(self, topic: str, msg: bytes | str, retain: bool = False, qos: int = 0) -> None:
        client = self._live()
        info = client.publish(topic, msg, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            self.drop()
            raise OSError(104, "publish failed: %s" % paho.error_string(info.rc))
        self._flush(client)
        if qos:
            self._wait(info.is_published, "PUBACK")

    def subscribe(self, topic: str, qos: int = 0) -> None:
        client = self._live()
        before = self._subacks
        client.subscribe(topic, qos)
        self._wait(lambda: self._subacks > before, "SUBACK")

    def check_msg(self) -> None:
        self._loop(0.0)
        self._deliver()

    def wait_msg(self) -> None:
        deadline = time.monotonic() + _TIMEOUT
        while not self._inbox and time.monotonic() < deadline:
            self._loop(0.1)
        self._deliver()

    # -- internals ---------------------------------------------------------------------------
    def _live(self) -> paho.Client:
        if not self.board.online:
            self.drop()
        if self._paho is None:
            raise OSError(107, "ENOTCONN")
        return self._paho

    def _flush(self, client: paho.Client) -> None:
        # umqtt writes a packet before publish() returns; paho may leave it queued until loop().
        while client.want_write():
            rc = client.loop_write()
            if rc != paho.MQTT_ERR_SUCCESS:
                self.drop()
                raise OSError(104, "connection lost: %s" % paho.error_string(rc))

    def _loop(self, timeout: float) -> None:
        rc = self._live().loop(timeout)
        if rc != paho.MQTT_ERR_SUCCESS:
            self.drop()
            raise OSError(104, "connection lost: %s" % paho.error_string(rc))

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + _TIMEOUT
        while not done():
            if time.monotonic() > deadline:
                self.drop()
                raise OSError(110, "ETIMEDOUT waiting for %s" % what)
            self._loop(0.05)

    def _deliver(self) -> None:
        while self._inbox and self.cb is not None:
            topic, payload = self._inbox.popleft()
            self.cb(topic, payload)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connack = int(reason.value) if hasattr(reason, "value") else int(reason)

    def _on_subscribe(self, *args: Any) -> None:
        self._subacks += 1

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self._inbox.append((message.topic.encode(), message.payload))
