"""A WebSocket client's outgoing queue: never blocks the hub, batches, and gives up on laggards.

Producers (bus callbacks on the hub's path) only append to a deque; one writer task per
connection drains it. With coalescing on, everything pending goes out as one JSON array
frame. A client that lets too much pile up is disconnected with a logged reason instead of
making the hub buffer without bound.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from aiohttp import WSMsgType, web

MAX_PENDING = 4096  # queued messages: beyond this the client is cut off at once
PENDING_HIGH_WATER = 1024  # queued messages: staying above this for PEAK_TIMEOUT cuts it off
PEAK_TIMEOUT = 10.0


class SendQueue:
    """Queue encoded JSON messages for one socket and write them from one task."""

    __slots__ = ("_ws", "_loop", "_queue", "_wakeup", "_peak_timer", "_on_overflow", "coalesce", "closed")

    def __init__(self, ws: web.WebSocketResponse, on_overflow: Callable[[str], None]) -> None:
        self._ws = ws
        self._loop = asyncio.get_running_loop()
        self._queue: deque[bytes] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._peak_timer: asyncio.TimerHandle | None = None
        self._on_overflow = on_overflow
        self.coalesce = False
        self.closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def send(self, data: bytes) -> None:
        """Queue one encoded message (a JSON object); never waits."""
        if self.closed:
            return
        queue = self._queue
        queue.append(data)
        pending = len(queue)
        if pending > PENDING_HIGH_WATER:
            if pending >= MAX_PENDING:
                self.close()
                self._on_overflow(f"more than {MAX_PENDING} messages pending")
                return
            if self._peak_timer is None:
                self._peak_timer = self._loop.call_later(PEAK_TIMEOUT, self._check_peak)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def _check_peak(self) -> None:
        self._peak_timer = None
        if len(self._queue) > PENDING_HIGH_WATER:
            self.close()
            self._on_overflow(f"more than {PENDING_HIGH_WATER} messages pending for {PEAK_TIMEOUT:.0f} s")

    def close(self) -> None:
        """Drop what is pending and stop the writer."""
        self.closed = True
        self._queue.clear()
        if self._peak_timer is not None:
            self._peak_timer.cancel()
            self._peak_timer = None
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

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
                if self.coalesce and len(queue) > 1:
                    frame = b"[" + b",".join(queue) + b"]"
                    queue.clear()
                else:
                    frame = queue.popleft()
                await ws.send_frame(frame, text)
        except (ConnectionError, RuntimeError):
            # The peer is gone: nothing left to deliver.
            self.close()
