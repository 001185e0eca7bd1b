"""The barrier a source waits on before it acknowledges a reading: is what it wrote durable yet?

A source that can have its readings sent again (an MQTT broker redelivers every QoS 1 message
the hub did not acknowledge) writes them to the state machine first and acknowledges them only
once `hub.durability.wait()` says they are safe. Consumers that keep readings (the recorder and
its on-disk spool) register a barrier here; with none registered, a write is as durable as it
will ever be and sources acknowledge at once.

    pending = hub.durability.wait()       # after writing a batch of states
    if pending is None:
        acknowledge()
    else:
        pending.add_done_callback(lambda done: acknowledge() if not done.exception() else None)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

Barrier = Callable[[], "asyncio.Future[None] | None"]
"""A sink's barrier: a future done once every state written before the call is durable, or None
when it is already. The future fails when the sink cannot promise it (it stopped)."""


class Durability:
    """The sinks that keep readings, and the one barrier sources wait on."""

    def __init__(self) -> None:
        self._sinks: list[Barrier] = []

    def add_sink(self, barrier: Barrier) -> Callable[[], None]:
        """Register a consumer's barrier; return the undo."""
        self._sinks.append(barrier)

        def remove() -> None:
            if barrier in self._sinks:
                self._sinks.remove(barrier)

        return remove

    @property
    def has_sinks(self) -> bool:
        """Return whether any consumer keeps readings (else wait() is always None)."""
        return bool(self._sinks)

    def wait(self) -> asyncio.Future[None] | None:
        """Return a future done once every state written so far is durable, or None if it is already.

        Futures complete in the order they were asked for. A failed future means "not durable":
        the source must not acknowledge, so that what it read is delivered again.
        """
        pending = [future for sink in self._sinks if (future := sink()) is not None]
        if not pending:
            return None
        if len(pending) == 1:
            return pending[0]
        gathered: asyncio.Future[None] = asyncio.ensure_future(_all(pending))
        return gathered


async def _all(futures: list[asyncio.Future[None]]) -> None:
    await asyncio.gather(*futures)
