"""Acknowledgements held back until what a message wrote is durable, then sent in order.

A broker forgets a QoS 1 message once the hub sends its PUBACK (a QoS 2 one at PUBREC). So the
hub handles the message first (the state machine, the recorder's pending list), asks the hub's
durability barrier (`hub.durability.wait`, the recorder's group commit into its spool), and
sends the acknowledgement only when that says the reading is safe. A crash before that loses
nothing: the broker delivers the message again when the hub reconnects.

Messages handled in one pass of the event loop share one barrier, and their acknowledgements go
out in one write, in the order the messages came (MQTT 3.1.1 4.6.0-2).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)

Durable = Callable[[], "asyncio.Future[None] | None"]
"""The hub's barrier: a future done once every state written so far is durable, or None if it is."""
SendAcks = Callable[[list[tuple[int, int]]], None]
"""Send the acknowledgements of (packet id, QoS) pairs, in order, on the connection."""


class DeferredAcks:
    """The acknowledgements of one connection that wait for the durability barrier."""

    def __init__(self, durable: Durable | None, send: SendAcks) -> None:
        self._durable = durable
        self._send = send
        self._batch: list[tuple[int, int]] = []
        self._waiting: deque[tuple[asyncio.Future[None] | None, list[tuple[int, int]]]] = deque()
        self._scheduled = False
        self._closed = False

    def hold(self, packet_id: int, qos: int) -> None:
        """Acknowledge this message once what handling it wrote is durable (call after handling it)."""
        self._batch.append((packet_id, qos))
        if not self._scheduled:
            self._scheduled = True
            # After the rest of this read's messages were handled: one barrier for them all.
            asyncio.get_running_loop().call_soon(self._seal)

    @property
    def outstanding(self) -> int:
        """Return how many messages wait for their acknowledgement."""
        return len(self._batch) + sum(len(batch) for _, batch in self._waiting)

    def _seal(self) -> None:
        self._scheduled = False
        batch, self._batch = self._batch, []
        if not batch or self._closed:
            return
        future = self._durable() if self._durable is not None else None
        if future is None and not self._waiting:
            self._send(batch)
            return
        self._waiting.append((future, batch))
        if future is None:
            self._release()
        else:
            future.add_done_callback(self._release)

    def _release(self, _: object = None) -> None:
        while self._waiting:
            future, batch = self._waiting[0]
            if future is not None and not future.done():
                return
            self._waiting.popleft()
            if future is not None and (future.cancelled() or future.exception() is not None):
                # Not durable: acknowledge nothing more on this connection, so the broker
                # delivers these messages (and the ones after them) again after a reconnect.
                if not self._closed:
                    _LOGGER.warning("MQTT messages not acknowledged: %s", "cancelled" if future.cancelled() else future.exception())
                self.close()
                return
            if not self._closed:
                self._send(batch)

    async def drain(self, timeout: float) -> None:
        """Wait up to timeout seconds until every held acknowledgement was sent (a clean stop)."""
        if self._batch:
            self._seal()
        futures = [future for future, _ in self._waiting if future is not None]
        if futures:
            await asyncio.wait(futures, timeout=timeout)
        self._release()

    def close(self) -> None:
        """The connection is gone: send nothing more (the broker redelivers what was not acknowledged)."""
        self._closed = True
        self._batch.clear()
        self._waiting.clear()
