"""The recorder: state_changed -> pending list -> batches -> spool -> history backend."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from hub.core.bus import EVENT_STATE_CHANGED, Event, callback
from hub.core.states import valid_entity_id
from hub.exceptions import HubError
from hub.recorder.backends.base import AttributeChange, BackendError, Batch, HistoryBackend, Row
from hub.recorder.backlog import BACKLOG_ENTITY_ID, Backlog
from hub.recorder.commit import Change, Committer
from hub.recorder.compressed import format_value
from hub.recorder.history_cache import HistoryCache
from hub.recorder.spool import Spool
from hub.recorder.tiers import Downsampler

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")
POISON_ATTEMPTS = 3
# Points kept decoded for the writer (records just spooled): bounded by points, not records, so
# that a writer behind a busy ingest (a second's commit can hold 20,000 points) does not hold
# a backlog's worth of batches in memory; beyond it the writer reads them back from the spool.
RECENT_MAX_POINTS = 100_000
# Errors that mean "the backend is away": retried for as long as it takes.
TRANSIENT_ERRORS = (BackendError, OSError, TimeoutError)
# Points handed to the stored listeners at a time, with the loop let go in between: they look
# at every point (the history cache drops the spans written into), and a whole merged write
# (20,000 points at 20,000 readings/s) took 5-7 ms of the loop in one step.
STORED_SLICE = 2_000
# Points the I/O thread builds before it lets go of the interpreter lock: otherwise the loop,
# wanting it back, waits out the interpreter's switch interval (5 ms) while a second's worth
# of readings (2-3 µs a point) is built.
GIL_SLICE = 256


def to_value(state: str) -> float | None:
    """Return the state as a float when it is a finite number, else None (kept as text)."""
    try:
        value = float(state)
    except ValueError:
        return None
    if not math.isfinite(value) or "_" in state:
        return None
    return value


def as_point(entity_id: str, ts: float, text: str) -> Row:
    """Return the point of a state: numbers as float values, with the text kept as well when
    the number would not print back as written ("21.50", "1e3"), so history shows what the
    live state showed."""
    value = to_value(text)
    if value is None:
        return (entity_id, ts, None, text)
    return (entity_id, ts, value, None if format_value(value) == text else text)


def _slices(batch: Batch, size: int) -> Iterable[Batch]:
    """Yield the batch in parts of at most size points (its attribute changes with the first)."""
    points = batch.points
    if len(points) <= size:
        yield batch
        return
    yield Batch(points[:size], batch.attributes)
    for start in range(size, len(points), size):
        yield Batch(points[start : start + size])


def encode_in_parts(batch: Batch, part: int = 2048) -> bytes:
    """Return batch.to_bytes(), encoded a part of the points at a time with the interpreter lock
    let go in between: one orjson call over a second's points (0.2 µs a point, 6 ms at 30,000
    readings/s) cannot be interrupted, and the event loop would wait for all of it."""
    points = batch.points
    if len(points) <= part:
        return batch.to_bytes()
    encoded = []
    for start in range(0, len(points), part):
        encoded.append(orjson.dumps(points[start : start + part], default=tuple)[1:-1])
        time.sleep(0)  # the loop may take the lock here
    return b"[[" + b",".join(encoded) + b"]," + orjson.dumps(batch.attributes, default=tuple) + b"]"


class Recorder:
    """Record state changes into a history backend without ever losing one it accepted."""

    def __init__(
        self,
        hub: Hub,
        backend: HistoryBackend,
        spool: Spool,
        *,
        keep: Callable[[str], bool] = lambda entity_id: True,
        commit_interval: float = 1.0,
        sync_interval: float = 0.01,
        max_batch: int = 20_000,
        write_timeout: float = 30.0,
        retry_max: float = 5.0,
        memory_max_points: int = 200_000,
    ) -> None:
        self.hub = hub
        self.backend = backend
        self.spool = spool
        self.commit_interval = commit_interval
        self.max_batch = max_batch
        self.write_timeout = write_timeout
        self.retry_max = retry_max
        self.last_error: str | None = None
        self.plan: Any = None  # the RetentionPlan: which tier answers which range
        self.tiers: Downsampler | None = None  # fills the 5-minute and hour tiers (set by the integration)
        self.written_points = 0
        # Successful backend writes and the seconds they took, for /metrics.
        self.write_count = 0
        self.write_seconds = 0.0
        # Called with each batch the backend stored (the downsampler marks late data with it).
        self.stored_listeners: list[Callable[[Batch], None]] = []
        # Called when the spool stops or starts being writable again (notifications).
        self.spool_listeners: list[Callable[[str | None], None]] = []
        # Encoded past hours for the charts' history queries; late points drop their hour.
        self.history_cache = HistoryCache()
        self.stored_listeners.append(self.history_cache.note_stored)
        self._keep = keep
        self._kept: dict[str, bool] = {}
        self._last_attributes: dict[str, Any] = {}  # in the I/O thread: the attributes last stored
        self._seen: dict[str, Any] = {}  # on the loop: the attributes object of the last change kept
        self._io = ThreadPoolExecutor(1, thread_name_prefix="recorder-spool")
        self.commits = Committer(
            self._spool_append,
            self._build_off_loop,
            commit_interval=commit_interval,
            sync_interval=sync_interval,
            max_batch=max_batch,
            memory_max_points=memory_max_points,
            on_appended=self._appended_record,
            on_status=self._spool_status,
            short_of_space=lambda: spool.short_of_space,
        )
        self._pending = self.commits.pending
        self._appended = spool.records  # records left by an earlier run are written first
        self._written = 0
        # Records just spooled, so the writer need not read back and decode what it has.
        self._recent: dict[tuple[str, int], Batch] = {}
        self._recent_points = 0
        self._changed = asyncio.Condition()
        self._spooled = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._jobs: list[asyncio.Task[None]] = []
        self._unsub: Callable[[], None] | None = None
        self._undo_sink: Callable[[], None] | None = None
        self._backlog = Backlog(hub)

    # -- lifecycle

    async def start(self, *, backlog_sensor: bool = True) -> None:
        """Listen to state changes and start the commit and write loops."""
        if backlog_sensor:
            await self._backlog.add(self.spool.points)
        self._unsub = self.hub.bus.listen(EVENT_STATE_CHANGED, self._on_state_changed)
        # Sources (MQTT QoS 1) acknowledge a reading once it is in the spool.
        self._undo_sink = self.hub.durability.add_sink(self.commits.barrier)
        self._tasks = [
            self.hub.loop.create_task(self.commits.run(), name="recorder commit"),
            self.hub.loop.create_task(self._write_loop(), name="recorder write"),
        ]
        if self.spool:
            _LOGGER.warning("Recorder: replaying %d points spooled before the restart", self.spool.points)
            self._spooled.set()

    def run_job(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run a background job that uses the backend; it ends when the recorder stops."""
        self._jobs.append(self.hub.loop.create_task(coro, name=name))

    async def stop(self, budget: float = 1.0) -> None:
        """Spool what is pending and give the backend budget seconds to store the backlog."""
        for job in self._jobs:
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        if self._undo_sink is not None:
            self._undo_sink()
            self._undo_sink = None
        await self.commits.stop()
        try:
            await asyncio.wait_for(self._wait_written(), budget)
        except TimeoutError:
            _LOGGER.warning("Recorder stopped with %d points in the spool; they are written at next start", self.spool.points)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._backlog.close()
        self._io.shutdown(wait=True)
        await self.backend.close()

    # -- the hot path: one append per state change

    @callback
    def _on_state_changed(self, event: Event) -> None:
        new = event.data["new_state"]
        if new is None:
            return
        keep = self._kept.get(new.entity_id)
        if keep is None:
            # The backlog sensor is not recorded: during an outage it would feed its own backlog.
            keep = self._kept[new.entity_id] = new.entity_id != BACKLOG_ENTITY_ID and self._keep(new.entity_id)
        if keep:
            pending = self._pending
            entity_id, attributes = new.entity_id, new.attributes
            if self._seen.get(entity_id) is attributes:
                # The same attributes object as this entity's previous change (MQTT entities
                # keep theirs between messages): nothing for the build to compare.
                pending.append((entity_id, new.last_updated_timestamp, new.state))
            else:
                self._seen[entity_id] = attributes
                pending.append((entity_id, new.last_updated_timestamp, new.state, attributes))
            if len(pending) >= self.max_batch:
                self.commits.kept()

    # -- batching

    def _build(self, changes_in: list[Change]) -> Batch:
        points: list[Row] = []
        changes: list[AttributeChange] = []
        last_attributes = self._last_attributes
        for n, change in enumerate(changes_in):
            if n % GIL_SLICE == GIL_SLICE - 1:
                time.sleep(0)  # let the event loop have the interpreter lock if it waits for it
            entity_id, ts = change[0], change[1]
            points.append(as_point(entity_id, ts, change[2]))
            if len(change) == 4:
                attributes = change[3]
                previous = last_attributes.get(entity_id)
                if previous is not attributes and previous != attributes:
                    last_attributes[entity_id] = attributes
                    changes.append(AttributeChange(entity_id, ts, orjson.dumps(attributes, default=str).decode()))
        # The changes die here, in the I/O thread: a second's worth of tuples with the last
        # references to their timestamps and state texts took 2-3 ms to free on the loop.
        changes_in.clear()
        return Batch(points, changes)

    async def commit(self) -> None:
        """Put what is pending into the spool now (fsynced), and let the writer store it."""
        await self.commits.commit()

    async def append(self, batch: Batch) -> None:
        """Put a batch into the spool (fsynced) after what is pending, and let the writer store it."""
        if batch:
            await self.commits.add_batch(batch)

    async def _build_off_loop(self, states: list[Change]) -> Batch:
        # In the I/O thread, which builds one batch at a time and in commit order, so that
        # _last_attributes sees the states in the order they changed.
        return await self._io_call(self._build, states)

    async def _spool_append(self, batch: Batch) -> tuple[str, int]:
        return await self._io_call(self._encode_append, batch)

    def _encode_append(self, batch: Batch) -> tuple[str, int]:
        return self.spool.append(encode_in_parts(batch), len(batch.points))

    def _appended_record(self, key: tuple[str, int], batch: Batch) -> None:
        self._appended += 1
        if self._recent_points + len(batch.points) <= RECENT_MAX_POINTS:
            self._recent[key] = batch
            self._recent_points += len(batch.points)
        self._spooled.set()
        self.hub.loop.create_task(self._notify())

    def _spool_status(self) -> None:
        self._update_sensor(now=True)
        for listener in self.spool_listeners:
            listener(self.commits.error)

    async def _io_call(self, func: Callable[..., _T], *args: Any) -> _T:
        # Spool I/O blocks on fsync: one thread keeps appends and pops in order.
        return await asyncio.get_running_loop().run_in_executor(self._io, func, *args)

    # -- writing

    async def _write_loop(self) -> None:
        delay = 0.1
        attempts = 0
        merge = True
        while True:
            await self._spooled.wait()
            self._spooled.clear()
            while True:
                # Several small records (group commits) go to the backend as one write; after a
                # refused write, one at a time, so that only the record it refuses is set aside.
                items = await self._io_call(self.spool.peek_many, self.max_batch if merge else 1)
                if not items:
                    break
                batch = self._merged(items)
                points = sum(item[1] for item in items)
                began = time.perf_counter()
                try:
                    await asyncio.wait_for(self.backend.write(batch), self.write_timeout)
                except Exception as err:  # noqa: BLE001 - every failure means: keep it spooled, retry
                    self._failed(err)
                    transient = isinstance(err, TRANSIENT_ERRORS)
                    if not transient and len(items) > 1:
                        merge = False
                        continue
                    attempts += 1
                    if attempts >= POISON_ATTEMPTS and not transient:
                        # Not an outage but a batch the backend cannot take: set it aside so
                        # it does not block every later point.
                        await self._io_call(self._reject, items[0][0], err)
                        await self._io_call(self.spool.pop)
                        attempts = 0
                        merge = True
                        continue
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max)
                    continue
                delay, attempts, merge = 0.1, 0, True
                self.write_count += 1
                self.write_seconds += time.perf_counter() - began
                await self._io_call(self.spool.pop, len(items))
                await self._stored(batch, points, len(items))

    def _merged(self, items: list[tuple[bytes, int, tuple[str, int]]]) -> Batch:
        recent = self._recent
        batches = []
        for payload, _, key in items:
            batch = recent.pop(key, None)
            if batch is None:
                batch = Batch.from_bytes(payload)
            else:
                self._recent_points -= len(batch.points)
            batches.append(batch)
        if len(batches) == 1:
            return batches[0]
        merged = Batch()
        for batch in batches:
            merged.points.extend(batch.points)
            merged.attributes.extend(batch.attributes)
        return merged

    def _reject(self, payload: bytes, err: BaseException) -> None:
        path = self.spool.folder / "rejected.bin"
        with path.open("ab") as file:
            file.write(len(payload).to_bytes(4, "little") + payload)
        _LOGGER.error("Recorder set a batch aside in %s: the backend refuses it (%s)", path, err)

    def _failed(self, err: BaseException) -> None:
        message = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        if message != self.last_error:
            _LOGGER.warning(
                "History backend %s failed (%s); %d points kept in the spool and retried",
                self.backend.name,
                message,
                self.spool.points,
            )
        _LOGGER.debug("History write failed", exc_info=err)
        changed = message != self.last_error
        self.last_error = message
        self._update_sensor(now=changed)

    async def _stored(self, batch: Batch, points: int, records: int) -> None:
        if self.last_error is not None:
            _LOGGER.warning("History backend %s is back; spool backlog: %d points", self.backend.name, self.spool.points)
            self.last_error = None
        for part in _slices(batch, STORED_SLICE):
            for listener in self.stored_listeners:
                listener(part)
            if len(part.points) == STORED_SLICE:
                await asyncio.sleep(0)  # readings waiting behind this write go first
        # Counted once every listener saw the whole batch: flush() returns after this.
        self._written += records
        self.written_points += points
        self._update_sensor()
        self.hub.loop.create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait_written(self) -> None:
        # What was taken from pending may still be on its way into the spool (an fsync): it
        # counts as recorded, so wait for it to be appended first.
        await self.commits.commit()
        async with self._changed:
            target = self._appended
            # Writes go in order, so "all written" is: the spool is empty, or as many records
            # were written in this run as were appended up to target.
            await self._changed.wait_for(lambda: self._written >= target or not self.spool)

    def _update_sensor(self, now: bool = False) -> None:
        commits = self.commits
        attributes = {
            "spool_bytes": self.spool.size,
            "dropped_points": self.spool.dropped_points + commits.dropped_points,
            "held_in_memory": commits.held_points,
            "last_error": self.last_error,
            "spool_error": commits.error,
        }
        self._backlog.show(self.spool.points + commits.held_points, attributes, now=now)

    # -- public API

    @property
    def queue_depth(self) -> int:
        """Return the state changes waiting for the next commit into the spool."""
        return len(self._pending)

    async def flush(self, timeout: float = 10.0) -> None:
        """Write everything recorded so far to the backend (waits up to timeout seconds)."""
        await asyncio.wait_for(self._wait_written(), timeout)

    async def flush_pending(self, timeout: float = 2.0) -> None:
        """Make what was recorded so far readable; when the backend is behind, do not wait longer."""
        try:
            await self.flush(timeout)
        except TimeoutError:
            pass

    def hour_tier_until(self) -> float | None:
        """Return up to when the hour tier holds every point stored so far (None: no tiers).

        Statistics over long spans read the hour tier before this time and raw points after it:
        the current hour, hours not aggregated yet, and hours a backfill made stale.
        """
        return self.tiers.hour_tier_until() if self.tiers is not None else None

    async def backfill(self, entity_id: str, points: Iterable[tuple[float | datetime, Any]]) -> int:
        """Write points with their own timestamps to history; the live state is not touched.

        Args:
            entity_id: the entity the points belong to.
            points: (timestamp, value) pairs; a timestamp is epoch seconds or an aware datetime,
                a value a number or a state string.

        Returns:
            The number of points accepted.
        """
        if not valid_entity_id(entity_id):
            message = f"Invalid entity_id {entity_id!r} for backfill"
            raise HubError(message)
        rows = []
        for ts, raw in points:
            stamp = ts.timestamp() if isinstance(ts, datetime) else float(ts)
            text = raw if isinstance(raw, str) else format_value(float(raw)) if not isinstance(raw, bool) else ("on" if raw else "off")
            rows.append(as_point(entity_id, stamp, text))
        rows.sort(key=lambda p: p[1])
        for start in range(0, len(rows), self.max_batch):
            await self.append(Batch(rows[start : start + self.max_batch]))
        return len(rows)
