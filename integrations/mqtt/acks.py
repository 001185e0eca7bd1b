"""Acknowledgements held back until what a message wrote is durable, then sent in order.

A broker forgets a QoS 1 message once the hub sends its PUBACK (a QoS 2 one at PUBREC). So the
hub handles the message first (the state machine, the recorder's pending list), asks the hub's
durability barrier (`hub.durability.wait`, the recorder's group commit into its spool), and
sends the acknowledgement only when that says the reading is safe. A crash before that loses
nothing: the broker delivers the message again when the hub reconnects.

Messages handled in one pass of the event loop share one barrier, and their acknowledgements go
out in one write, in the order the messages came (MQTT 3.1.1 4.6.0-2).

A connection shared by the homes of a process (integrations/mqtt/shared.py) holds each message
with the barrier of the home that handled it: a message is acknowledged once its own home's
spool has it AND every message received before it was acknowledged, whichever home it was for.
A message of a home that is stopping is held with `BLOCKED`: it and everything after it wait
until the connection closes or reconnects (the broker keeps them and delivers them again).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

_LOGGER = logging.getLogger(__name__)

Durable = Callable[[], "asyncio.Future[None] | None"]
"""The hub's barrier: a future done once every state written so far is durable, or None if it is."""
SendAcks = Callable[[list[tuple[int, int]]], None]
"""Send the acknowledgements of (packet id, QoS) pairs, in order, on the connection."""


def BLOCKED() -> asyncio.Future[None] | None:  # noqa: N802 - a sentinel, named as a constant
    """The barrier of a message that must not be acknowledged on this connection (its home stops)."""
    raise AssertionError("BLOCKED is a marker, never called")


class _Blocked:
    """The waiting entry of BLOCKED messages: never released, not waited for by a drain."""


_BLOCKED_ENTRY: Any = _Blocked()


class DeferredAcks:
    """The acknowledgements of one connection that wait for the durability barrier."""

    def __init__(self, durable: Durable | None, send: SendAcks,
                 on_failed: Callable[[], None] | None = None) -> None:
        self._durable = durable
        self._send = send
        # Called once a barrier failed (a shared connection reconnects so the broker redelivers).
        self.on_failed = on_failed
        # Held in this pass of the loop: full segments of one barrier each, then the open one.
        self._segments: list[tuple[Durable | None, list[tuple[int, int]]]] = []
        self._batch_barrier: Durable | None = None
        self._batch: list[tuple[int, int]] = []
        self._waiting: deque[tuple[asyncio.Future[None] | None, list[tuple[int, int]]]] = deque()
        self._scheduled = False
        self._closed = False

    def hold(self, packet_id: int, qos: int, barrier: Durable | None = None) -> None:
        """Acknowledge this message once what handling it wrote is durable (call after handling it).

        barrier: the barrier of the home that handled it, when it is not the connection's own.
        """
        if barrier is not self._batch_barrier:
            if self._batch:
                self._segments.append((self._batch_barrier, self._batch))
                self._batch = []
            self._batch_barrier = barrier
        self._batch.append((packet_id, qos))
        if not self._scheduled:
            self._scheduled = True
            # After the rest of this read's messages were handled: one barrier for them all.
            asyncio.get_running_loop().call_soon(self._seal)

    @property
    def outstanding(self) -> int:
        """Return how many messages wait for their acknowledgement."""
        return (len(self._batch) + sum(len(batch) for _, batch in self._segments)
                + sum(len(batch) for _, batch in self._waiting))

    @property
    def blocked(self) -> bool:
        """Return whether a message held with BLOCKED stops the acknowledgements."""
        return any(future is _BLOCKED_ENTRY for future, _ in self._waiting) or any(
            barrier is BLOCKED for barrier, _ in self._segments) or (self._batch_barrier is BLOCKED and bool(self._batch))

    def _seal(self) -> None:
        self._scheduled = False
        if self._segments:
            self._seal_segments()
            return
        # The usual pass: one barrier for every message of it (always so on a single home's connection).
        batch, self._batch = self._batch, []
        if not batch or self._closed:
            return
        future = self._barrier_future(self._batch_barrier)
        if future is None and not self._waiting:
            self._send(batch)
            return
        self._waiting.append((future, batch))
        if future is None:
            self._release()
        elif future is not _BLOCKED_ENTRY:
            future.add_done_callback(self._release)

    def _seal_segments(self) -> None:
        """Seal a pass of messages held with several barriers (homes sharing a connection), in order."""
        segments = self._segments
        if self._batch:
            segments.append((self._batch_barrier, self._batch))
        self._segments, self._batch = [], []
        if self._closed:
            return
        added = False
        for barrier, batch in segments:
            future = self._barrier_future(barrier)
            if future is None and not self._waiting:
                self._send(batch)
                continue
            self._waiting.append((future, batch))
            if future is None:
                added = True
            elif future is not _BLOCKED_ENTRY:
                future.add_done_callback(self._release)
        if added:
            self._release()

    def _barrier_future(self, barrier: Durable | None) -> Any:
        """What a pass sealed with `barrier` waits for: the spool's future, None, or the blocked marker."""
        if barrier is None:
            return self._durable() if self._durable is not None else None
        if barrier is BLOCKED:
            return _BLOCKED_ENTRY
        return barrier()

    def _release(self, _: object = None) -> None:
        while self._waiting:
            future, batch = self._waiting[0]
            if future is _BLOCKED_ENTRY or (future is not None and not future.done()):
                return
            self._waiting.popleft()
            if future is not None and (future.cancelled() or future.exception() is not None):
                # Not durable: acknowledge nothing more on this connection, so the broker
                # delivers these messages (and the ones after them) again after a reconnect.
                if not self._closed:
                    _LOGGER.warning("MQTT messages not acknowledged: %s", "cancelled" if future.cancelled() else future.exception())
                    self.close()
                    if self.on_failed is not None:
                        self.on_failed()
                return
            if not self._closed:
                self._send(batch)

    async def drain(self, timeout: float) -> None:
        """Wait up to timeout seconds until every held acknowledgement was sent (a clean stop)."""
        if self._batch or self._segments:
            self._seal()
        futures = [future for future, _ in self._waiting if future is not None and future is not _BLOCKED_ENTRY]
        if futures:
            await asyncio.wait(futures, timeout=timeout)
        self._release()

    def close(self) -> None:
        """The connection is gone: send nothing more (the broker redelivers what was not acknowledged)."""
        self._closed = True
        self._batch.clear()
        self._segments.clear()
        self._waiting.clear()
