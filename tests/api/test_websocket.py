"""The WebSocket API against a real hub: auth, message rules and every core command."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from hub.api.websocket import STATS_KEY, WebSocketConnection

from .conftest import Api, WsClient, wait_for


async def test_auth_ok_and_invalid(api: Api) -> None:
    client = await WsClient.open(api.session, api.url)
    hello = await client.receive()
    assert hello == {"type": "auth_required", "ha_version": hello["ha_version"]}
    await client.send({"type": "auth", "access_token": "nope"})
    assert await client.receive() == {"type": "auth_invalid", "message": "Invalid access token or password"}
    closed = await client.ws.receive(timeout=5)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    client = await WsClient.open(api.session, api.url)
    await client.receive()
    await client.send({"type": "auth", "access_token": 5})
    answer = await client.receive()
    assert answer["type"] == "auth_invalid"
    assert answer["message"].startswith("Auth message incorrectly formatted")

    ok = await (await WsClient.open(api.session, api.url)).authenticate(api.tokens["read-only"])
    assert set(ok) == {"type", "ha_version"}


async def test_jwt_access_token_authenticates_websocket(api: Api) -> None:
    _, session = await api.hub.auth.create_refresh_token(api.users["user"].id)
    token = api.hub.auth.access.issue(api.users["user"].id, session.family_id)
    client = await WsClient.open(api.session, api.url)
    await client.authenticate(token)
    assert (await client.command("auth/current_user"))["name"] == "user"


async def test_ping_ids_and_malformed_messages(api: Api) -> None:
    client = await api.ws()
    await client.send({"id": 5, "type": "ping"})
    assert await client.receive() == {"id": 5, "type": "pong"}
    await client.send({"id": 5, "type": "ping"})
    assert await client.receive() == {
        "id": 5, "type": "result", "success": False,
        "error": {"code": "id_reuse", "message": "Identifier values have to increase."},
    }
    await client.send({"id": 6, "type": "no_such_thing"})
    assert (await client.receive())["error"] == {"code": "unknown_command", "message": "Unknown command."}
    # An unknown type does not use up the id.
    await client.send({"id": 6, "type": "ping"})
    assert await client.receive() == {"id": 6, "type": "pong"}
    await client.send({"type": "ping"})
    assert (await client.receive())["error"] == {"code": "invalid_format", "message": "Message incorrectly formatted."}
    await client.send("{not json")
    assert (await client.receive())["error"]["code"] == "invalid_format"
    await client.send({"id": 7, "type": "ping", "extra": 1})
    error = (await client.receive())["error"]
    assert error["code"] == "invalid_format" and "extra" in error["message"]
    await client.send("x" * (1024 * 1024 + 10))
    assert "too large" in (await client.receive())["error"]["message"]
    # Still connected and working: several commands in one frame, answered in order.
    await client.send([{"id": 8, "type": "ping"}, {"id": 9, "type": "ping"}])
    assert [await client.receive(), await client.receive()] == [
        {"id": 8, "type": "pong"}, {"id": 9, "type": "pong"},
    ]


async def test_get_states_and_get_config(api: Api) -> None:
    client = await api.ws("read-only")
    states = await client.command("get_states")
    by_id = {s["entity_id"]: s for s in states}
    relay = by_id["switch.test_relay"]
    assert list(relay) == ["entity_id", "state", "attributes", "last_changed", "last_reported", "last_updated", "context"]
    assert relay["state"] == "off"
    assert by_id["sensor.test_power"]["attributes"]["unit_of_measurement"] == "W"
    config = await client.command("get_config")
    assert config["location_name"] == "Test home"
    assert config["state"] == "RUNNING"
    assert "testdevices" in config["components"]
    assert set(config) >= {"time_zone", "unit_system", "version", "latitude", "currency"}


async def test_get_services(api: Api) -> None:
    client = await api.ws("user")
    services = await client.command("get_services")
    assert services["testdevices"]["echo"] == {
        "name": "Echo", "description": "Answer with the data",
        "fields": {"text": {"example": "hi"}}, "response": {"optional": True},
    }
    assert services["testdevices"]["only"]["response"] == {"optional": False}
    assert "toggle" in services["switch"]


async def test_subscribe_events_and_unsubscribe(api: Api) -> None:
    client = await api.ws()
    sub = await client.send_command("subscribe_events", event_type="state_changed")
    assert (await client.result(sub))["result"] is None
    api.hub.states.set("sensor.outside", "12", {"unit_of_measurement": "°C"})
    event = await client.event(sub)
    assert event["event_type"] == "state_changed"
    assert event["origin"] == "LOCAL"
    assert event["data"]["entity_id"] == "sensor.outside"
    assert event["data"]["old_state"] is None
    assert event["data"]["new_state"]["state"] == "12"
    assert set(event["context"]) == {"id", "parent_id", "user_id"}
    assert await client.command("unsubscribe_events", subscription=sub) is None
    assert await client.error("unsubscribe_events", subscription=sub) == {
        "code": "not_found", "message": "Subscription not found."
    }
    api.hub.states.set("sensor.outside", "13")
    # Nothing arrives for the ended subscription: the next message is the ping's pong.
    await client.send_command("ping")
    assert (await client.receive())["type"] == "pong"


async def test_subscribe_all_events_needs_admin(api: Api) -> None:
    reader = await api.ws("read-only")
    assert (await reader.error("subscribe_events"))["code"] == "unauthorized"
    sub = await reader.send_command("subscribe_events", event_type="state_changed")
    assert (await reader.result(sub))["success"]
    admin = await api.ws("admin")
    sub = await admin.send_command("subscribe_events")
    assert (await admin.result(sub))["success"]
    api.hub.bus.fire("custom_thing", {"n": 1})
    assert (await admin.event(sub))["data"] == {"n": 1}


async def test_call_service_toggles_with_context(api: Api) -> None:
    client = await api.ws("user")
    sub = await client.send_command("subscribe_events", event_type="state_changed")
    await client.result(sub)
    result = await client.command(
        "call_service", domain="switch", service="toggle", target={"entity_id": "switch.test_relay"}
    )
    assert result["response"] is None
    assert result["context"]["user_id"] == api.users["user"].id
    event = await client.event(sub)
    assert event["data"]["new_state"]["state"] == "on"
    # The context of the call travels to the state it caused.
    assert event["data"]["new_state"]["context"]["id"] == result["context"]["id"]
    assert api.hub.states.get("switch.test_relay").state == "on"


async def test_call_service_response_and_errors(api: Api) -> None:
    client = await api.ws("user")
    result = await client.command(
        "call_service", domain="testdevices", service="echo", service_data={"text": "hi"}, return_response=True
    )
    assert result["response"] == {"echo": {"text": "hi"}}
    assert await client.error("call_service", domain="nope", service="x") == {
        "code": "not_found", "message": "Service nope.x not found."
    }
    error = await client.error("call_service", domain="testdevices", service="echo", service_data={"text": 5})
    assert error["code"] == "service_validation_error"
    assert error["message"].startswith("Validation error:")
    error = await client.error("call_service", domain="testdevices", service="only")
    assert error["code"] == "service_validation_error"
    assert await client.error("call_service", domain="testdevices", service="fail") == {
        "code": "home_assistant_error", "message": "The relay did not answer"
    }
    assert (await client.error("call_service", domain="switch"))["code"] == "invalid_format"


async def test_read_only_user_cannot_act(api: Api) -> None:
    client = await api.ws("read-only")
    error = await client.error("call_service", domain="switch", service="turn_on",
                               target={"entity_id": "switch.test_relay"})
    assert error == {"code": "unauthorized", "message": "Unauthorized"}
    assert (await client.error("fire_event", event_type="x"))["code"] == "unauthorized"
    assert (await client.error("audit/list"))["code"] == "unauthorized"
    assert api.hub.states.get("switch.test_relay").state == "off"


async def test_fire_event(api: Api) -> None:
    client = await api.ws("admin")
    sub = await client.send_command("subscribe_events", event_type="doorbell")
    await client.result(sub)
    result = await client.command("fire_event", event_type="doorbell", event_data={"door": "front"})
    event = await client.event(sub)
    assert event["data"] == {"door": "front"}
    assert event["origin"] == "REMOTE"
    assert event["context"]["id"] == result["context"]["id"]
    assert (await (await api.ws("user")).error("fire_event", event_type="x"))["code"] == "unauthorized"


async def test_subscribe_entities_compressed(api: Api) -> None:
    client = await api.ws("read-only")
    sub = await client.send_command("subscribe_entities")
    await client.result(sub)
    initial = await client.event(sub)
    relay = initial["a"]["switch.test_relay"]
    assert relay["s"] == "off"
    assert isinstance(relay["c"], str) and isinstance(relay["lc"], float)
    assert "sensor.test_power" in initial["a"]
    hub = api.hub
    hub.states.set("sensor.test_power", "43", {**hub.states.get("sensor.test_power").attributes, "extra": 1})
    change = await client.event(sub)
    diff = change["c"]["sensor.test_power"]["+"]
    assert diff["s"] == "43" and diff["a"] == {"extra": 1} and "lc" in diff
    attributes = dict(hub.states.get("sensor.test_power").attributes)
    del attributes["extra"]
    hub.states.set("sensor.test_power", "43", attributes)
    change = await client.event(sub)
    assert change["c"]["sensor.test_power"]["-"] == {"a": ["extra"]}
    assert "s" not in change["c"]["sensor.test_power"]["+"] and "lu" in change["c"]["sensor.test_power"]["+"]
    hub.states.set("light.new", "on")
    assert (await client.event(sub))["a"]["light.new"]["s"] == "on"
    hub.states.remove("light.new")
    assert await client.event(sub) == {"r": ["light.new"]}


async def test_subscribe_entities_with_ids_and_empty_start(api: Api) -> None:
    client = await api.ws()
    sub = await client.send_command("subscribe_entities", entity_ids=["sensor.not_yet"])
    await client.result(sub)
    assert await client.event(sub) == {"a": {}}
    api.hub.states.set("sensor.other", "1")
    api.hub.states.set("sensor.not_yet", "5")
    assert (await client.event(sub))["a"]["sensor.not_yet"]["s"] == "5"


async def test_coalesced_messages_arrive_as_arrays(api: Api) -> None:
    client = await api.ws(coalesce=True)
    sub = await client.send_command("subscribe_events", event_type="state_changed")
    await client.result(sub)
    for value in range(50):
        api.hub.states.set("sensor.burst", str(value))
    seen = [(await client.event(sub))["data"]["new_state"]["state"] for _ in range(50)]
    assert seen == [str(v) for v in range(50)]
    assert any(isinstance(frame, list) and len(frame) > 1 for frame in client.frames)


async def test_slow_client_is_disconnected_without_slowing_the_hub(api: Api, caplog) -> None:  # type: ignore[no-untyped-def]
    client = await api.ws()
    sub = await client.send_command("subscribe_events", event_type="state_changed")
    await client.result(sub)
    # The client reads nothing while the hub writes far more than the queue may hold.
    big = {"blob": "x" * 2000}
    for value in range(20_000):
        api.hub.states.set("sensor.flood", str(value), big)
    await wait_for(lambda: "messages pending" in caplog.text)
    assert "Disconnecting WebSocket client" in caplog.text
    # The client sees the socket end after whatever was already in flight.
    while True:
        msg = await client.ws.receive(timeout=10)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
    assert api.hub.states.get("sensor.flood").state == "19999"


async def test_a_behind_dashboard_gets_each_entitys_latest_state_instead_of_being_cut_off(api: Api, caplog) -> None:  # type: ignore[no-untyped-def]
    from hub.api import send_queue

    client = await api.ws(coalesce=True)
    sub = await client.send_command("subscribe_events", event_type="state_changed")
    await client.result(sub)
    # 20,000 changes of 50 entities while the client reads nothing: 5 times what would cut it off.
    for value in range(20_000):
        api.hub.states.set(f"sensor.flood_{value % 50}", str(value))
    seen: dict[str, list[int]] = {}
    while sum(len(v) for v in seen.values()) < send_queue.PENDING_HIGH_WATER or any(
            v[-1] < 20_000 - 50 for v in seen.values()) or len(seen) < 50:
        data = (await client.event(sub))["data"]
        seen.setdefault(data["entity_id"], []).append(int(data["new_state"]["state"]))
    # Every entity ends on its latest state, each in order; intermediate ones were skipped.
    assert {entity: values[-1] for entity, values in seen.items()} == {
        f"sensor.flood_{i}": 20_000 - 50 + i for i in range(50)}
    assert all(values == sorted(values) for values in seen.values())
    assert sum(len(v) for v in seen.values()) < send_queue.PENDING_HIGH_WATER + 100
    assert "sending only the latest state of each entity" in caplog.text
    assert "Disconnecting WebSocket client" not in caplog.text
    assert (await client.result(await client.send_command("ping")))["type"] == "pong"  # still connected
    assert api.runtime.runner.app[STATS_KEY].slow_disconnects == 0


async def test_a_behind_subscribe_entities_client_ends_on_every_entitys_state(api: Api, caplog) -> None:  # type: ignore[no-untyped-def]
    client = await api.ws(coalesce=True)
    sub = await client.send_command("subscribe_entities")
    await client.result(sub)
    states: dict[str, str] = {}

    def apply(message: dict) -> None:  # type: ignore[type-arg]
        # As home-assistant-js-websocket applies it: "a" replaces an entity, "c" changes it.
        for entity_id, compressed in message.get("a", {}).items():
            states[entity_id] = compressed["s"]
        for entity_id, diff in message.get("c", {}).items():
            if "s" in diff.get("+", {}):
                states[entity_id] = diff["+"]["s"]

    apply(await client.event(sub))  # the initial states
    for value in range(20_000):
        api.hub.states.set(f"sensor.flood_{value % 50}", str(value))
    expected = {f"sensor.flood_{i}": str(20_000 - 50 + i) for i in range(50)}
    while any(states.get(entity_id) != state for entity_id, state in expected.items()):
        apply(await client.event(sub))
    assert "sending only the latest state of each entity" in caplog.text
    assert api.runtime.runner.app[STATS_KEY].slow_disconnects == 0


async def test_a_reading_but_slow_dashboard_stays_a_stuck_one_is_cut_off(api: Api, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from hub.api import send_queue

    # The hub runs in the test's loop: a round of 500 changes is one block of the loop, and on a loaded
    # machine such a block has outlasted a 0.5 s timeout, so the reading client wrote no frame in it.
    monkeypatch.setattr(send_queue, "PEAK_TIMEOUT", 1.5)
    slow, stuck = await api.ws(coalesce=True), await api.ws(coalesce=True)
    subs = [await slow.send_command("subscribe_events", event_type="state_changed"),
            await stuck.send_command("subscribe_events", event_type="state_changed")]
    await slow.result(subs[0])
    await stuck.result(subs[1])
    big = {"blob": "x" * 4000}  # fills the stuck client's socket buffers quickly
    loop = asyncio.get_running_loop()
    end = loop.time() + 4 * send_queue.PEAK_TIMEOUT  # many PEAK_TIMEOUTs, always behind
    value = 0
    while loop.time() < end:
        for _ in range(500):  # 2 MB a round; the slow client reads at most 1 MB (one frame)
            value += 1
            api.hub.states.set(f"sensor.slow_{value % 200}", str(value), big)
        assert (await slow.ws.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT  # reads one frame a round
        await asyncio.sleep(0.05)
    await wait_for(lambda: "Disconnecting WebSocket client" in caplog.text)
    # Both fell behind (logged once each, not once per frame); only the one that reads nothing is cut off.
    assert caplog.text.count("sending only the latest state of each entity") == 2
    assert api.runtime.runner.app[STATS_KEY].slow_disconnects == 1
    assert (await slow.result(await slow.send_command("ping")))["type"] == "pong"  # the slow one still answers
    while True:  # the stuck one sees its socket end
        msg = await stuck.ws.receive(timeout=10)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break


async def test_tokens_over_websocket(api: Api) -> None:
    client = await api.ws("user")
    token = await client.command("auth/long_lived_access_token", client_name="my script", lifespan=30)
    other = await WsClient.open(api.session, api.url)
    await other.authenticate(token)
    tokens = await other.command("auth/refresh_tokens")
    mine = [t for t in tokens if t["client_name"] == "my script"]
    assert mine and mine[0]["type"] == "long_lived_access_token" and mine[0]["is_current"]
    assert await client.command("auth/delete_refresh_token", refresh_token_id=mine[0]["id"]) == {}
    revoked = await WsClient.open(api.session, api.url)
    await revoked.receive()
    await revoked.send({"type": "auth", "access_token": token})
    assert (await revoked.receive())["type"] == "auth_invalid"
    # Nobody revokes another user's token.
    owner_tokens = await (await api.ws("owner")).command("auth/refresh_tokens")
    error = await client.error("auth/delete_refresh_token", refresh_token_id=owner_tokens[0]["id"])
    assert error["code"] == "not_found"


async def test_audit_log_records_service_calls(api: Api) -> None:
    user = await api.ws("user")
    await user.command("call_service", domain="switch", service="turn_on", target={"entity_id": "switch.test_relay"})
    await user.error("call_service", domain="nope", service="x")
    admin = await api.ws("admin")
    rows = await admin.command("audit/list", action="call_service")
    assert [(r["user_name"], r["target"], r["result"]) for r in rows[:2]] == [
        ("user", "nope.x", "not_found"),
        ("user", "switch.turn_on entity_id=switch.test_relay", "ok"),
    ]
    assert set(rows[0]) == {"id", "created_at", "user_id", "user_name", "action", "target", "result", "remote",
                            "reason", "context_id", "parent_context_id"}
    assert rows[1]["context_id"]  # the call's context, to find what it changed


async def test_auth_timeout_closes(api: Api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from hub.api import websocket

    monkeypatch.setattr(websocket, "AUTH_TIMEOUT", 0.2)
    client = await WsClient.open(api.session, api.url)
    assert (await client.receive())["type"] == "auth_required"
    msg = await client.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


def _connection_handlers() -> list[asyncio.Task[object]]:
    """Return the tasks that run a WebSocketConnection.handle (aiohttp runs each request in one)."""
    found = []
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        while coro is not None:
            if getattr(coro, "cr_code", None) is WebSocketConnection.handle.__code__:
                found.append(task)
                break
            coro = getattr(coro, "cr_await", None)
    return found


async def test_cancelling_the_handler_ends_the_connection(api: Api) -> None:
    stats = api.runtime.runner.app[STATS_KEY]
    client = await api.ws()
    sub = await client.send_command("subscribe_events", event_type="state_changed")
    await client.result(sub)
    [handler] = _connection_handlers()
    assert stats.clients == 1

    handler.cancel()
    # The client sees the socket close (and answers the close, as every client does).
    msg = await client.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    done, _ = await asyncio.wait([handler], timeout=5)
    # The cancellation is not swallowed: the task ends cancelled, after its cleanup.
    assert done == {handler} and handler.cancelled()
    assert stats.clients == 0
    # The hub serves new clients as before.
    states = await (await api.ws()).command("get_states")
    assert "switch.test_relay" in {state["entity_id"] for state in states}


def test_messages_are_compact_json() -> None:
    from hub.api.ws_messages import error_message, event_message_from_json, result_message

    assert json.loads(result_message(3, [1])) == {"id": 3, "type": "result", "success": True, "result": [1]}
    assert json.loads(error_message(4, "x", "y"))["error"] == {"code": "x", "message": "y"}
    assert json.loads(event_message_from_json(9, b'{"a":1}')) == {"id": 9, "type": "event", "event": {"a": 1}}
