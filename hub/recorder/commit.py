"""Group commit: pending state changes into the spool, fsynced together, and the barrier sources wait on.

Every state change the recorder keeps waits in `pending` until the next commit builds a batch of
them and appends it to the on-disk spool with one fsync. Building and encoding a batch happen
off the event loop, in the recorder's I/O thread (`build` and `append` are awaitables): at
10,000 readings/s a one-second batch took 50-90 ms of CPU, which held the loop and every
reading behind it. Commits come every `commit_interval`
seconds, at once for a full batch, and within `sync_interval` seconds while a source waits on
`barrier()` to acknowledge what it read (an MQTT QoS 1 PUBACK): many readings share one fsync,
so acknowledging after the spool costs little throughput.

When the spool cannot be written (a full disk, a read-only file system), built batches are kept
in memory, up to `memory_max_points`, and retried at every commit; `error` says why. Barriers
are then released once the points are held in memory, so that live states, automations and the
broker connection keep running, while readiness and a notification tell the user that history
is at risk until the disk has room again.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hub.exceptions import HubError
from hub.recorder.backends.base import Batch

if TYPE_CHECKING:
    from collections.abc import Mapping

_LOGGER = logging.getLogger(__name__)

SpoolAppend = Callable[[Batch], Awaitable[tuple[str, int]]]
"""Encode a batch, append it to the spool and fsync it (in the recorder's I/O thread); return its key."""
Change = tuple[str, float, str] | tuple[str, float, str, "Mapping[str, Any]"]
"""One kept state change as it waits for a commit: (entity_id, last_updated timestamp, state),
and its attributes when they are not the very object the entity's previous change carried.
A plain tuple rather than the State: a State brings its context and its encoded form, several
objects that the collector would otherwise scan and promote while they wait; and a tuple of a
string, a float and a string is untracked by the collector at its first young collection, so
that the second's worth of readings waiting here is not scanned again at every collection."""
BuildBatch = Callable[[list[Change]], Awaitable[Batch]]
"""Turn changes into a batch of points (in the recorder's I/O thread, one build at a time, in order)."""


class RecorderStopped(HubError):
    """A barrier that cannot be kept: the recorder stopped before the states reached the spool."""


class Committer:
    """Move pending states into the spool in group commits; tell waiters when they are durable."""

    def __init__(
        self,
        append: SpoolAppend,
        build: BuildBatch,
        *,
        commit_interval: float,
        sync_interval: float,
        max_batch: int,
        memory_max_points: int,
        on_appended: Callable[[tuple[str, int], Batch], None],
        on_status: Callable[[], None],
        short_of_space: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.pending: list[Change] = []
        self.commit_interval = commit_interval
        self.sync_interval = sync_interval
        self.max_batch = max_batch
        self.memory_max_points = memory_max_points
        self.error: str | None = None  # why the spool cannot be written, while it cannot
        self.held_points = 0  # points built into batches that are not in the spool yet
        self.dropped_points = 0  # points given up on: the spool failed and memory was full
        self._append = append
        self._build = build
        self._on_appended = on_appended
        self._on_status = on_status
        self._short_of_space = short_of_space
        # Batches not in the spool yet, oldest first, each with its sequence number: the states
        # taken from pending until the commit builds them, or a batch built elsewhere (a backfill).
        self._ready: deque[tuple[int, Batch | list[Change]]] = deque()
        self._built = 0  # sequence number of the last batch built
        self._settled = 0  # batches up to this one are in the spool (or held in memory while it fails)
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._wake = asyncio.Event()
        self._urgent = False
        self._last_commit = 0.0
        self._stopped = False
        self._lock = asyncio.Lock()  # one commit at a time: records reach the spool in order, once

    # -- what sources and the recorder call

    def barrier(self) -> asyncio.Future[None] | None:
        """Return a future done once every state kept so far is in the spool, or None if it is already.

        The future fails with RecorderStopped when the recorder stops first.
        """
        # What is pending now goes into the next batch built.
        target = self._built + 1 if self.pending else self._built
        if target <= self._settled:
            return None
        return self._wait_for(target)

    def kept(self) -> None:
        """Note a state added to pending: a full batch wakes the loop at once."""
        if len(self.pending) >= self.max_batch:
            self._wake.set()

    async def add_batch(self, batch: Batch) -> None:
        """Spool a batch built elsewhere (a backfill) after what is pending; wait for its commit."""
        self._take_pending()
        self._push(batch)
        await self.commit()

    async def commit(self) -> None:
        """Commit whatever is pending now, and wait until it is in the spool (or held in memory)."""
        self._take_pending()
        if self._built > self._settled:
            await self._wait_for(self._built)

    @property
    def idle(self) -> bool:
        """Return whether nothing waits to be committed."""
        return not self.pending and self._built <= self._settled

    # -- the loop

    async def run(self) -> None:
        """Commit on a timer, on a full batch, or within sync_interval of a source's barrier."""
        while True:
            if not self._urgent and len(self.pending) < self.max_batch:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.commit_interval)
                except TimeoutError:
                    pass
            self._wake.clear()
            if self._urgent and len(self.pending) < self.max_batch:
                # Readings that arrive meanwhile share this fsync; nobody waits much longer.
                gap = self.sync_interval - (time.monotonic() - self._last_commit)
                if gap > 0:
                    await asyncio.sleep(gap)
            self._urgent = False
            self._last_commit = time.monotonic()
            await self._commit_once()

    async def stop(self) -> None:
        """Commit what is left (the caller cancels run()); fail the barriers that still wait."""
        self._stopped = True
        await self._commit_once()
        if self._ready:
            _LOGGER.error(
                "Recorder stopped with %d points it could not write to its spool (%s): they are lost",
                self.held_points,
                self.error,
            )
        self._fail_waiters()

    # -- inside

    def _wait_for(self, target: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._stopped:
            future.set_exception(RecorderStopped("the recorder stopped"))
            return future
        self._waiters.append((target, future))
        self._urgent = True
        self._wake.set()
        return future

    def _push(self, item: Batch | list[Change]) -> None:
        self._built += 1
        self._ready.append((self._built, item))
        self.held_points += _points(item)

    def _take_pending(self) -> None:
        if self.pending:
            # The same list object stays: the recorder's hot path appends to it directly.
            states = self.pending.copy()
            self.pending.clear()
            self._push(states)

    async def _commit_once(self) -> None:
        async with self._lock:
            await self._commit_locked()

    async def _commit_locked(self) -> None:
        self._take_pending()
        while self._ready:
            seq, item = self._ready[0]
            try:
                if isinstance(item, Batch):
                    batch = item
                else:
                    batch = await self._build(item)
                    self._ready[0] = (seq, batch)  # built once, even if the spool refuses it
                key = await self._append(batch)
            except OSError as err:
                self._spool_failed(err)
                break
            self._ready.popleft()
            self.held_points -= len(batch.points)
            self._settled = seq
            self._on_appended(key, batch)
            short = self._short_of_space()
            if short is not None:
                # It fit, but only in room the spool gave back itself: the disk is full all the same.
                self._spool_failed(OSError(errno.ENOSPC, short))
            elif self.error is not None:
                self._spool_recovered()
            # A commit() or backfill may have added more while this one was written.
        if self.error is not None:
            # Held in memory: release the sources, so that live states keep flowing.
            self._settled = self._built
            self._trim_memory()
        self._release()

    def _release(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._settled:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)

    def _fail_waiters(self) -> None:
        error = RecorderStopped("the recorder stopped before these states reached its spool")
        while self._waiters:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: a source that went away must not leave a loop error

    # -- a spool that cannot be written

    def _spool_failed(self, err: OSError) -> None:
        message = f"{type(err).__name__}: {err}"
        if err.errno == errno.ENOSPC and self.error is not None and "No space left" in self.error:
            return  # still full: one report, not one per free-space figure
        if message != self.error:
            _LOGGER.error(
                "Recorder cannot write its spool (%s): %d points are held in memory (at most %d) and retried",
                message,
                self.held_points,
                self.memory_max_points,
            )
            self.error = message
            self._on_status()

    def _spool_recovered(self) -> None:
        _LOGGER.warning("Recorder spool is writable again; the %d points held in memory go to it now", self.held_points)
        self.error = None
        self._on_status()

    def _trim_memory(self) -> None:
        while self.held_points > self.memory_max_points and len(self._ready) > 1:
            _, item = self._ready.popleft()
            points = _points(item)
            self.held_points -= points
            self.dropped_points += points
            _LOGGER.error(
                "Recorder dropped %d points: its spool cannot be written (%s) and %d points are held in memory already",
                points,
                self.error,
                self.memory_max_points,
            )


def _points(item: Batch | list[Change]) -> int:
    """Return the points a batch holds, or will hold once built (one per state)."""
    return len(item.points) if isinstance(item, Batch) else len(item)
