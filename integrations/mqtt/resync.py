"""After each connect: find the discovery configs removed from the broker while the hub was away.

Discovery topics are subscribed at QoS 0, as Home Assistant does, so that a broker's queue limit
never drops a retained config; the broker then sends every retained config again at each
(re)subscription, but it queues nothing for the hub while it is away, so a removal (an empty
retained payload) made meanwhile never arrives. The hub recreates entities from its discovery
cache at start, so it must notice: a known config that the broker did not send again is gone.

To tell "gone" from "not arrived yet", the configs not seen once a first marker message made
the round trip are asked for again, each by its exact topic at QoS 1 (in chunks that fit a
stock broker's queue), followed by a second marker at QoS 1; the broker delivers QoS 1
messages to a client in order, so a config not seen by the time that marker comes back has no
retained message: it was removed. A broker that sent no config at all (it lost its retained
store) removes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from integrations.mqtt.client import MqttClientError
from integrations.mqtt.subscriptions import Message

if TYPE_CHECKING:
    from integrations.mqtt.client import MqttClient

_LOGGER = logging.getLogger(__name__)

# Exact topics asked for again per round: well below a stock Mosquitto's 1,000 queued messages.
CHUNK = 500
MARKER_TIMEOUT = 30.0


class DiscoveryResync:
    """Tell discovery which known configs the broker no longer has, after every connect."""

    def __init__(
        self,
        client: MqttClient,
        prefix: str,
        known: Callable[[], Iterable[str]],
        removed: Callable[[str], None],
        handler: Callable[[Message], None],
    ) -> None:
        self.client = client
        # Discovery topics received, with the number of the connection they came on.
        self._seen: dict[str, int] = {}
        self._known = known
        self._removed = removed
        self._handler = handler
        self._topic = f"{prefix}/powerhub_sync/{client.settings.client_id}"
        self._markers: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._undo: list[Callable[[], None]] = []

    def start(self) -> None:
        """Listen for markers and run after every connect."""
        self._undo.append(self.client.subscribe(self._topic, self._marker, 1))
        self._undo.append(self.client.on_connect(self._connected))

    def stop(self) -> None:
        """Stop listening; cancel a resync under way."""
        for undo in self._undo:
            undo()
        self._undo.clear()
        if self._task is not None:
            self._task.cancel()
        self._seen.clear()

    def note(self, topic: str) -> None:
        """Note a discovery message (the broker still has that config)."""
        self._seen[topic] = self.client.connections

    def _seen_now(self) -> set[str]:
        current = self.client.connections
        return {topic for topic, connection in self._seen.items() if connection == current}

    def _connected(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mqtt discovery resync")

    def _marker(self, message: Message) -> None:
        future = self._markers.pop(message.payload.decode("ascii", "replace"), None)
        if future is not None and not future.done():
            future.set_result(None)

    async def _round_trip(self) -> None:
        marker = uuid.uuid4().hex
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._markers[marker] = future
        try:
            await self.client.publish(self._topic, marker, qos=1)
            await asyncio.wait_for(future, MARKER_TIMEOUT)
        finally:
            self._markers.pop(marker, None)

    async def _run(self) -> None:
        try:
            await self._round_trip()
            seen = self._seen_now()
            missing = sorted(set(self._known()) - seen)
            if not missing:
                return
            if not seen:
                _LOGGER.warning(
                    "The MQTT broker sent none of the %d discovery configs the hub knows: it may have lost its "
                    "retained messages; keeping the entities until their devices announce themselves again",
                    len(missing),
                )
                return
            for start in range(0, len(missing), CHUNK):
                await self._confirm(missing[start : start + CHUNK])
        except (MqttClientError, TimeoutError) as err:
            # The connection went, or the broker is slow: the next connect tries again.
            _LOGGER.debug("Discovery resync did not finish: %s", err)

    async def _confirm(self, topics: list[str]) -> None:
        undo = [self.client.subscribe(topic, self._handler, 1) for topic in topics]
        try:
            await self.client.wait_subscribed()
            await self._round_trip()
        finally:
            for release in undo:
                release()
        seen = self._seen_now()
        for topic in topics:
            if topic not in seen:
                _LOGGER.info("Discovery config %s was removed from the broker while the hub was away", topic)
                self._removed(topic)
