"""A WebSocket client's outgoing queue: never blocks the hub, batches, and bounds what a laggard costs.

Producers (bus callbacks on the hub's path) only append to a deque; one writer task per
connection drains it. With coalescing on (the client sent `supported_features` with
`coalesce_messages`, as Home Assistant's frontend does), everything pending goes out as one
JSON array frame.

A client that falls behind: once more than PENDING_HIGH_WATER messages wait, a message sent
with a key (a `state_changed` event or a `subscribe_entities` whole state of one entity, for one
subscription) replaces the pending message of the same key instead of queueing behind it, so a slow dashboard receives the latest
state of every entity, skipping intermediate ones, and the queue stays bounded by the number of
entities instead of growing with the rate (only for coalescing clients, whose writer takes
everything pending at once). It is cut off, with a logged reason, when MAX_PENDING messages
wait anyway, or when it stays above PENDING_HIGH_WATER for PEAK_TIMEOUT without reading
anything (a client that reads, however slowly, stays connected).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Hashable

from aiohttp import WSMsgType, web

_LOGGER = logging.getLogger(__name__)

MAX_PENDING = 4096  # queued messages: beyond this the client is cut off at once
PENDING_HIGH_WATER = 1024  # queued messages: above this, keyed messages replace their pending one
PEAK_TIMEOUT = 10.0  # seconds above PENDING_HIGH_WATER without a frame written: cut off
# A coalesced frame holds what is pending up to about this many bytes (clients limit a frame's
# size: aiohttp's default is 4 MiB); up to _JOIN_ALL messages are joined without counting.
FRAME_BYTES = 1024 * 1024
_JOIN_ALL = 64
BEHIND_LOG_INTERVAL = 60.0  # seconds: a client that keeps falling behind is logged once a minute


class SendQueue:
    """Queue encoded JSON messages for one socket and write them from one task."""

    __slots__ = ("_ws", "_loop", "_queue", "_wakeup", "_peak_timer", "_on_overflow", "_latest", "_frames",
                 "_behind_logged", "coalesce", "closed", "superseded", "name")

    def __init__(self, ws: web.WebSocketResponse, on_overflow: Callable[[str], None]) -> None:
        self._ws = ws
        self._loop = asyncio.get_running_loop()
        self._queue: deque[bytes | bytearray] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._peak_timer: asyncio.TimerHandle | None = None
        self._on_overflow = on_overflow
        # While behind: key -> the pending message of that key (a bytearray, replaced in place).
        self._latest: dict[Hashable, bytearray] = {}
        self._frames = 0  # frames written, to tell a slow reader from a stuck one
        self._behind_logged = -BEHIND_LOG_INTERVAL  # loop time of the last "behind" log line
        self.coalesce = False
        self.closed = False
        self.superseded = 0  # keyed messages replaced by a newer one before they were sent
        self.name = "WebSocket client"  # for the log

    def __len__(self) -> int:
        return len(self._queue)

    def is_behind(self) -> bool:
        """Return whether keyed messages now replace their pending predecessor (see the module)."""
        return self.coalesce and len(self._queue) >= PENDING_HIGH_WATER

    def send(self, data: bytes, key: Hashable | None = None) -> None:
        """Queue one encoded message (a JSON object); never waits.

        Args:
            data: the message.
            key: what makes a newer message supersede this one while the client is behind
                (e.g. the subscription id and entity id of a state_changed event); None: never.
        """
        if self.closed:
            return
        queue = self._queue
        pending = len(queue)
        if pending >= PENDING_HIGH_WATER:
            if key is not None and self.coalesce:
                latest = self._latest
                waiting = latest.get(key)
                if waiting is not None:
                    waiting[:] = data
                    self.superseded += 1
                    return
                if not latest and self._loop.time() - self._behind_logged > BEHIND_LOG_INTERVAL:
                    self._behind_logged = self._loop.time()
                    _LOGGER.info("%s is %d messages behind: sending only the latest state of each entity "
                                 "until it catches up", self.name, pending)
                latest[key] = cell = bytearray(data)
                queue.append(cell)
            else:
                queue.append(data)
            pending += 1
            if pending >= MAX_PENDING:
                self.close()
                self._on_overflow(f"more than {MAX_PENDING} messages pending")
                return
            if self._peak_timer is None:
                self._peak_timer = self._loop.call_later(PEAK_TIMEOUT, self._check_peak, self._frames)
        else:
            queue.append(data)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def _check_peak(self, frames_before: int) -> None:
        self._peak_timer = None
        if len(self._queue) <= PENDING_HIGH_WATER:
            return
        if self.coalesce and self._frames != frames_before:
            # Behind but reading: what it gets is bounded (the latest state of each entity).
            self._peak_timer = self._loop.call_later(PEAK_TIMEOUT, self._check_peak, self._frames)
            return
        self.close()
        reading = "" if self.coalesce else " without catching up"
        self._on_overflow(f"more than {PENDING_HIGH_WATER} messages pending for {PEAK_TIMEOUT:.0f} s{reading}")

    def close(self) -> None:
        """Drop what is pending and stop the writer."""
        self.closed = True
        self._queue.clear()
        self._latest.clear()
        if self._peak_timer is not None:
            self._peak_timer.cancel()
            self._peak_timer = None
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _take_coalesced(self) -> bytes:
        """Return what is pending as one frame (a JSON array), at most about FRAME_BYTES of it."""
        queue = self._queue
        # Sent or not, no pending message is superseded any more: a newer one queues anew.
        self._latest.clear()
        if len(queue) == 1:
            return bytes(queue.popleft())
        if len(queue) <= _JOIN_ALL:
            frame = b"[" + b",".join(queue) + b"]"
            queue.clear()
            return frame
        taken, size = [], 0
        while queue and size < FRAME_BYTES:
            item = queue.popleft()
            taken.append(item)
            size += len(item) + 1
        return b"[" + b",".join(taken) + b"]"

    async def run(self) -> None:
        """Write queued messages until closed or the peer is gone."""
        ws, queue = self._ws, self._queue
        text = WSMsgType.TEXT
        try:
            while not self.closed:
                if not queue:
                    self._wakeup = self._loop.create_future()
                    await self._wakeup
                    self._wakeup = None
                    continue
                if self.coalesce:
                    frame = self._take_coalesced()
                else:
                    frame = bytes(queue.popleft())
                self._frames += 1
                await ws.send_frame(frame, text)
        except (ConnectionError, RuntimeError):
            # The peer is gone: nothing left to deliver.
            self.close()


OPEN_SENDERS: web.AppKey[set[SendQueue]] = web.AppKey("open_senders", set)
"""The send queues of an app's open sockets (/api/websocket, /api/v1/realtime): what `silence` ends."""


def track_senders(app: web.Application) -> None:
    """Keep the app's open send queues (call while setting the app up, before it is frozen)."""
    if OPEN_SENDERS not in app:
        app[OPEN_SENDERS] = set()


def silence(app: web.Application) -> int:
    """Send nothing more on any open socket of this app (a home leaving a running hub); return how many.

    What is queued is dropped; the sockets close when their requests end.
    """
    senders = app.get(OPEN_SENDERS, set())
    for sender in list(senders):
        sender.close()
    return len(senders)

