"""Every use of aiomqtt's internals, checked against the installed aiomqtt when this module is imported.

The paho backend (client_paho.py) runs paho-mqtt through aiomqtt's asyncio socket handling and
goes through this module only. What it needs beyond aiomqtt's public API, and why:

* paho's message callback routed to one function (`Client._on_message` overridden): aiomqtt
  wraps every message (Message and Topic objects with validation), queues it, and its iterator
  creates a task per message; at thousands of messages per second that is most of the work.
* The paho client aiomqtt drives (`Client._client`), for compat_paho.buffer_socket().
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiomqtt
from paho.mqtt.client import Client as PahoClient
from paho.mqtt.client import MQTTMessage

from integrations.mqtt.compat import require

VERSION: str = getattr(aiomqtt, "__version__", "unknown")
SUPPORTED = "2.x"

require("aiomqtt", VERSION, SUPPORTED, aiomqtt.Client, "_on_message", "_client")


class Client(aiomqtt.Client):
    """aiomqtt's client with paho's message callback routed to one function."""

    def __init__(self, on_message: Callable[[MQTTMessage], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._deliver = on_message

    def _on_message(self, client: Any, userdata: Any, message: MQTTMessage) -> None:
        self._deliver(message)

    @property
    def paho_client(self) -> PahoClient:
        """The paho-mqtt client underneath."""
        client: PahoClient = self._client
        return client


__all__ = ["SUPPORTED", "VERSION", "Client"]
