"""history/stream and history/history_during_period over a real /api/websocket socket."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.hubs import write_config

CONFIG = """
recorder:
  commit_interval: 0.05
"""
DEADLINE = 10.0


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))


class Client:
    """A WebSocket client that numbers its commands and reads messages with a deadline."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def send(self, **msg: Any) -> int:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, **msg})
        return self.next_id

    async def receive(self) -> dict[str, Any]:
        message = await self.ws.receive_json(timeout=DEADLINE)
        assert isinstance(message, dict), message
        return message


@asynccontextmanager
async def connected(tmp_path: Path, start_hub: Any) -> AsyncIterator[tuple[Any, Client]]:
    write_config(tmp_path / "config", CONFIG)
    runtime = await start_hub(tmp_path / "config")
    user = await runtime.hub.auth.add_user("ann", "correct horse", "owner")
    token = await runtime.hub.auth.create_long_lived_token(user.id, "test")
    async with aiohttp.ClientSession() as session, session.ws_connect(
        f"{runtime.url}/api/websocket", max_msg_size=0
    ) as ws:
        client = Client(ws)
        assert (await client.receive())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await client.receive())["type"] == "auth_ok"
        yield runtime, client


async def test_stream_sends_history_then_live_changes_until_unsubscribed(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    async with connected(tmp_path, start_hub) as (runtime, client):
        hub = runtime.hub
        now = time.time()
        hub.states.set("sensor.power", "100", {"unit_of_measurement": "W"}, timestamp=now - 30)
        hub.states.set("sensor.power", "250.5", {"unit_of_measurement": "W"}, timestamp=now - 20)
        hub.states.set("sensor.other", "1", timestamp=now - 20)
        stream_id = await client.send(
            type="history/stream", start_time=iso(now - 60), entity_ids=["sensor.power"], minimal_response=True
        )
        assert await client.receive() == {"id": stream_id, "type": "result", "success": True, "result": None}
        history = await client.receive()
        assert history["id"] == stream_id and history["type"] == "event"
        event = history["event"]
        assert list(event["states"]) == ["sensor.power"]
        rows = event["states"]["sensor.power"]
        assert [r["s"] for r in rows] == ["100", "250.5"]
        assert rows[0]["a"] == {"unit_of_measurement": "W"} and set(rows[1]) == {"s", "lu"}
        assert event["start_time"] <= now - 59 and event["end_time"] >= now

        hub.states.set("sensor.other", "2")  # not streamed
        hub.states.set("sensor.power", "250.5", {"unit_of_measurement": "kW"})  # attributes only: not a change
        hub.states.set("sensor.power", "300", {"unit_of_measurement": "W"})
        live = await client.receive()
        assert live["id"] == stream_id
        (row,) = live["event"]["states"]["sensor.power"]
        assert row["s"] == "300" and row["a"] == {"unit_of_measurement": "W"}
        assert row["lu"] == hub.states.get("sensor.power").last_updated_timestamp  # type: ignore[union-attr]
        assert list(live["event"]["states"]) == ["sensor.power"]

        unsubscribe = await client.send(type="unsubscribe_events", subscription=stream_id)
        assert await client.receive() == {"id": unsubscribe, "type": "result", "success": True, "result": None}
        hub.states.set("sensor.power", "400")
        ping = await client.send(type="ping")
        assert await client.receive() == {"id": ping, "type": "pong"}  # nothing streamed after unsubscribing


async def test_stream_of_a_past_period_sends_history_and_ends(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    async with connected(tmp_path, start_hub) as (runtime, client):
        hub = runtime.hub
        now = time.time()
        hub.states.set("sensor.power", "1", timestamp=now - 50)
        hub.states.set("sensor.power", "2", timestamp=now - 40)
        hub.states.set("sensor.power", "3", timestamp=now - 5)
        stream_id = await client.send(
            type="history/stream",
            start_time=iso(now - 60),
            end_time=iso(now - 30),
            entity_ids=["sensor.power"],
            no_attributes=True,
        )
        answer = await client.receive()
        assert answer["id"] == stream_id and answer["success"] is True
        event = (await client.receive())["event"]
        assert [r["s"] for r in event["states"]["sensor.power"]] == ["1", "2"]
        assert event["end_time"] == float(int(now - 30))
        hub.states.set("sensor.power", "4")
        ping = await client.send(type="ping")
        assert await client.receive() == {"id": ping, "type": "pong"}
        future = await client.send(type="history/stream", start_time=iso(now + 3600), entity_ids=["sensor.power"])
        error = await client.receive()
        assert error["id"] == future and error["error"]["code"] == "invalid_start_time"


async def test_history_during_period_over_the_socket_is_preencoded_json(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    async with connected(tmp_path, start_hub) as (runtime, client):
        hub = runtime.hub
        now = time.time()
        for i, value in enumerate(["21", "21.5", "21.5", "-3", "unavailable", "22"]):
            hub.states.set("sensor.t", value, {"unit_of_measurement": "°C"}, timestamp=now - 60 + i)
        query = await client.send(
            type="history/history_during_period",
            start_time=iso(now - 120),
            entity_ids=["sensor.t"],
            minimal_response=True,
            no_attributes=True,
        )
        answer = await client.receive()
        assert answer["id"] == query and answer["success"] is True
        rows = answer["result"]["sensor.t"]
        # Numbers come back as they were written; a repeat is not a change.
        assert [r["s"] for r in rows] == ["21", "21.5", "-3", "unavailable", "22"]
        assert rows[0] == {"s": "21", "a": {}, "lu": rows[0]["lu"]} and set(rows[1]) == {"s", "lu"}
        assert abs(rows[2]["lu"] - (now - 57)) < 1e-3


async def test_a_long_range_comes_in_parts_that_join_to_the_whole_history(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    from hub.recorder import get_recorder

    async with connected(tmp_path, start_hub) as (runtime, client):
        recorder = get_recorder(runtime.hub)
        assert recorder is not None
        now = time.time()
        begin = now - 2 * 86400
        await recorder.backfill("sensor.power", [(begin + i * 30, i % 7) for i in range(2 * 2880)])
        await recorder.flush()
        whole_id = await client.send(type="history/history_during_period", start_time=iso(begin), end_time=iso(now),
                                     entity_ids=["sensor.power"], no_attributes=True, significant_changes_only=False)
        whole = (await client.receive())["result"]["sensor.power"]
        assert len(whole) == 2 * 2880
        stream_id = await client.send(type="history/stream", start_time=iso(begin), end_time=iso(now - 1),
                                      entity_ids=["sensor.power"], no_attributes=True, significant_changes_only=False)
        assert (await client.receive())["id"] == stream_id
        parts = []
        while not parts or parts[-1]["end_time"] < float(int(now - 1)):
            message = await client.receive()
            assert message["id"] == stream_id and message["type"] == "event", (whole_id, message)
            parts.append(message["event"])
        assert len(parts) == 8  # six hours each
        joined = [(r["s"], r["lu"]) for part in parts for r in part["states"].get("sensor.power", [])]
        assert joined == [(r["s"], r["lu"]) for r in whole]
