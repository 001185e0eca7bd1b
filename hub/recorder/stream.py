"""WebSocket `history/stream`: the history of some entities, then their changes as they happen.

As Home Assistant: a result (null) first, then the history up to now in events `{"states",
"start_time", "end_time"}` (one per six hours of a longer range, oldest first, so the hub never
holds a month of points at once), then events `{"states": {entity_id: [rows]}}` with each
change. A stream whose end_time is past sends the history and ends; one whose end_time is
ahead ends at end_time. `unsubscribe_events` with the command's id ends it earlier.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from hub.core.bus import Event, callback
from hub.recorder.api import QueryError, entity_ids_of, history_json, parse_time

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.core.states import State
    from hub.recorder.recorder import Recorder


PART = 6 * 3600.0  # seconds of history per event: a part of 10 sensors at 1 Hz is ~10 MB of JSON


def _span(msg: dict[str, Any], now: float) -> tuple[float, float | None]:
    start = parse_time(msg.get("start_time"))
    if start is None or start > now:
        raise QueryError("invalid_start_time", "Invalid start_time")
    end = None
    if msg.get("end_time"):
        end = parse_time(msg["end_time"])
        if end is None or end < start:
            raise QueryError("invalid_end_time", "Invalid end_time")
    return start, end


def live_row(state: State, *, no_attributes: bool) -> dict[str, Any]:
    """Return a live change in the stream's compressed shape ({"s", "a", "lu"[, "lc"]})."""
    row: dict[str, Any] = {"s": state.state}
    if not no_attributes:
        row["a"] = state.attributes
    row["lu"] = state.last_updated_timestamp
    if state.last_changed_timestamp != state.last_updated_timestamp:
        row["lc"] = state.last_changed_timestamp
    return row


class HistoryStream:
    """One `history/stream` subscription of one connection."""

    def __init__(self, hub: Hub, recorder: Recorder, connection: Any, msg: dict[str, Any]) -> None:
        self.hub = hub
        self.recorder = recorder
        self.connection = connection
        self.msg = msg
        self.msg_id: int = msg["id"]
        self.no_attributes = bool(msg.get("no_attributes", False))
        # As Home Assistant: with significant changes or a minimal response, an attribute
        # change alone is not worth a row.
        self.states_only = bool(msg.get("significant_changes_only", True) or msg.get("minimal_response", False))
        self._buffer: list[State] | None = []  # changes that arrive while the history is read
        self._queued: dict[str, list[dict[str, Any]]] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._end_handle: asyncio.TimerHandle | None = None
        self._untrack: Callable[[], None] | None = None
        self.closed = False

    @callback
    def _on_change(self, event: Event) -> None:
        new, old = event.data["new_state"], event.data["old_state"]
        if new is None or self.closed:
            return
        if self.states_only and old is not None and old.state == new.state:
            return
        if self._buffer is not None:
            self._buffer.append(new)
        else:
            self._queue(new)

    def _queue(self, state: State) -> None:
        self._queued.setdefault(state.entity_id, []).append(live_row(state, no_attributes=self.no_attributes))
        if self._flush_handle is None:
            # Changes made in one pass of the loop (a scene, a batch of MQTT messages) go out as one event.
            self._flush_handle = self.hub.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        if self._queued and not self.closed:
            queued, self._queued = self._queued, {}
            self.connection.send_event(self.msg_id, {"states": queued})

    def close(self) -> None:
        """Stop following changes (unsubscribe_events, the end time, or the client leaving)."""
        self.closed = True
        if self._untrack is not None:
            self._untrack()
            self._untrack = None
        for handle in (self._flush_handle, self._end_handle):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._end_handle = None

    def _end(self) -> None:
        if self.connection.subscriptions.get(self.msg_id) == self.close:
            del self.connection.subscriptions[self.msg_id]
        self._flush()
        self.close()

    async def run(self) -> None:
        """Answer the command: result, history, then live changes until closed."""
        now = time.time()
        start, end = _span(self.msg, now)
        entity_ids = entity_ids_of(self.msg)
        msg = {**self.msg, "entity_ids": entity_ids}
        if end is not None and end <= now:
            self.connection.subscriptions[self.msg_id] = self.close
            self.connection.send_result(self.msg_id)
            await self._send_history(msg, start, end)
            return
        self._untrack = self.hub.states.track(entity_ids, self._on_change)
        self.connection.subscriptions[self.msg_id] = self.close
        self.connection.send_result(self.msg_id)
        try:
            await self._send_history(msg, start, now)
        except BaseException:
            self.close()
            raise
        if self.closed:
            return  # unsubscribed while the history was read
        buffered, self._buffer = self._buffer or [], None
        for state in buffered:
            # What changed while the history was read and is not in it.
            if state.last_updated_timestamp >= now:
                self._queue(state)
        if end is not None:
            self._end_handle = self.hub.loop.call_later(max(end - time.time(), 0.0), self._end)

    async def _send_history(self, msg: dict[str, Any], start: float, end: float) -> None:
        """Send the history in [start, end) as events of at most PART seconds each, oldest first.

        A long range is read, encoded and sent part by part, so the hub never holds all of it;
        clients append each part's rows to the entity's history (as Home Assistant's frontend
        merges stream events). A part's first row may repeat the state the part before ended with.
        """
        begin = start
        while True:
            finish = min(end, begin + PART)
            part = {**msg, "include_start_time_state": msg.get("include_start_time_state", True) and begin == start}
            history = await history_json(self.recorder, part, begin, finish)
            if self.closed:
                return
            if begin == start or history != b"{}":
                self.connection.send_event(
                    self.msg_id, {"states": orjson.Fragment(history), "start_time": begin, "end_time": finish}
                )
            if finish >= end:
                return
            begin = finish


def stream_handler(recorder: Recorder) -> Callable[..., Any]:
    """Return the `history/stream` WebSocket handler."""

    async def history_stream(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
        try:
            await HistoryStream(hub, recorder, connection, msg).run()
        except QueryError as err:
            connection.send_error(msg["id"], err.code, str(err))

    return history_stream
