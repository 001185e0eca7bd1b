"""The REST API against a real hub: paths, status codes and bodies as Home Assistant's."""

from __future__ import annotations

import io
from typing import Any

from hub.core.bus import Event, callback

from .conftest import Api


async def call(api: Api, method: str, path: str, role: str = "owner", **kwargs: Any) -> tuple[int, Any]:
    async with api.session.request(method, f"{api.url}{path}", headers=api.headers(role), **kwargs) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_api_root_needs_a_token(api: Api) -> None:
    async with api.session.get(f"{api.url}/api/") as response:
        assert response.status == 401
    async with api.session.get(f"{api.url}/api/", headers={"Authorization": "Bearer wrong"}) as response:
        assert response.status == 401
    assert await call(api, "GET", "/api/", "read-only") == (200, {"message": "API running."})


async def test_config_components_events_services(api: Api) -> None:
    status, config = await call(api, "GET", "/api/config", "read-only")
    assert status == 200 and config["location_name"] == "Test home" and config["state"] == "RUNNING"
    assert await call(api, "GET", "/api/components") == (200, ["testdevices"])
    status, events = await call(api, "GET", "/api/events")
    assert status == 200 and all(set(e) == {"event", "listener_count"} for e in events)
    status, services = await call(api, "GET", "/api/services")
    by_domain = {entry["domain"]: entry["services"] for entry in services}
    assert by_domain["testdevices"]["echo"]["name"] == "Echo"
    assert set(by_domain["switch"]) == {"turn_on", "turn_off", "toggle"}


async def test_get_states(api: Api) -> None:
    status, states = await call(api, "GET", "/api/states", "read-only")
    assert status == 200
    assert {s["entity_id"] for s in states} >= {"switch.test_relay", "sensor.test_power"}
    status, relay = await call(api, "GET", "/api/states/switch.test_relay", "read-only")
    assert status == 200 and relay["state"] == "off" and relay["entity_id"] == "switch.test_relay"
    assert await call(api, "GET", "/api/states/switch.nope") == (404, {"message": "Entity not found."})


async def test_post_and_delete_state(api: Api) -> None:
    async with api.session.post(f"{api.url}/api/states/sensor.kitchen", headers=api.headers(),
                                json={"state": "21.5", "attributes": {"unit_of_measurement": "°C"}}) as response:
        assert response.status == 201
        assert response.headers["Location"] == "/api/states/sensor.kitchen"
        body = await response.json()
    assert body["state"] == "21.5" and body["attributes"] == {"unit_of_measurement": "°C"}
    assert body["context"]["user_id"] == api.users["owner"].id
    status, body = await call(api, "POST", "/api/states/sensor.kitchen", json={"state": "22"})
    assert status == 200 and body["state"] == "22"
    assert api.hub.states.get("sensor.kitchen").state == "22"
    assert await call(api, "POST", "/api/states/sensor.kitchen", json={"attributes": {}}) == (
        400, {"message": "No state attribute specified."})
    assert await call(api, "POST", "/api/states/sensor.kitchen", json=[1]) == (
        400, {"message": "State data should be a JSON object"})
    assert await call(api, "POST", "/api/states/sensor.kitchen", data="{oops") == (
        400, {"message": "Invalid JSON specified."})
    assert await call(api, "POST", "/api/states/Not_valid", json={"state": "1"}) == (
        400, {"message": "Invalid entity ID specified."})
    assert await call(api, "POST", "/api/states/sensor.kitchen", json={"state": "x" * 300}) == (
        400, {"message": "Invalid state specified."})
    assert await call(api, "DELETE", "/api/states/sensor.kitchen") == (200, {"message": "Entity removed."})
    assert await call(api, "DELETE", "/api/states/sensor.kitchen") == (404, {"message": "Entity not found."})


async def test_call_service_returns_changed_states(api: Api) -> None:
    status, changed = await call(api, "POST", "/api/services/switch/turn_on", "user",
                                 json={"entity_id": "switch.test_relay"})
    assert status == 200
    assert [(s["entity_id"], s["state"]) for s in changed] == [("switch.test_relay", "on")]
    assert changed[0]["context"]["user_id"] == api.users["user"].id
    # A state changed by someone else meanwhile is not reported: nothing changed this time.
    api.hub.states.set("sensor.unrelated", "1")
    assert await call(api, "POST", "/api/services/switch/turn_on", "user",
                      json={"entity_id": "switch.test_relay"}) == (200, [])


async def test_call_service_responses_and_errors(api: Api) -> None:
    status, body = await call(api, "POST", "/api/services/testdevices/echo?return_response", json={"text": "a"})
    assert status == 200 and body == {"changed_states": [], "service_response": {"echo": {"text": "a"}}}
    assert await call(api, "POST", "/api/services/switch/toggle?return_response",
                      json={"entity_id": "switch.test_relay"}) == (
        400, {"message": "Service does not support responses. Remove return_response from request."})
    status, body = await call(api, "POST", "/api/services/testdevices/only")
    assert status == 400 and "Add ?return_response" in body["message"]
    status, body = await call(api, "POST", "/api/services/nope/x")
    assert status == 400 and body == {"message": "Service nope.x not found."}
    status, body = await call(api, "POST", "/api/services/testdevices/echo", json={"text": 1})
    assert status == 400 and body["message"].startswith("Validation error")
    assert await call(api, "POST", "/api/services/testdevices/echo", data="{") == (
        400, {"message": "Data should be valid JSON."})
    status, body = await call(api, "POST", "/api/services/testdevices/fail")
    assert status == 500 and body == {"message": "The relay did not answer"}


async def test_fire_event(api: Api) -> None:
    seen: list[Event] = []
    api.hub.bus.listen("doorbell", callback(seen.append))
    assert await call(api, "POST", "/api/events/doorbell", json={"door": "front"}) == (
        200, {"message": "Event doorbell fired."})
    assert seen[0].data == {"door": "front"} and seen[0].origin.value == "REMOTE"
    assert seen[0].context.user_id == api.users["owner"].id
    assert await call(api, "POST", "/api/events/doorbell", data="{") == (
        400, {"message": "Event data should be valid JSON."})
    assert await call(api, "POST", "/api/events/doorbell", json=[1]) == (
        400, {"message": "Event data should be a JSON object"})
    assert await call(api, "POST", "/api/events/doorbell") == (200, {"message": "Event doorbell fired."})


async def test_read_only_may_read_but_never_change(api: Api) -> None:
    assert (await call(api, "GET", "/api/states", "read-only"))[0] == 200
    for method, path in (
        ("POST", "/api/services/switch/turn_on"),
        ("POST", "/api/states/sensor.x"),
        ("DELETE", "/api/states/switch.test_relay"),
        ("POST", "/api/events/doorbell"),
    ):
        status, _ = await call(api, method, path, "read-only", json={"entity_id": "switch.test_relay", "state": "1"})
        assert status == 401, (method, path)
    assert api.hub.states.get("switch.test_relay").state == "off"
    # A plain user controls devices but does not write states or fire events.
    assert (await call(api, "POST", "/api/states/sensor.x", "user", json={"state": "1"}))[0] == 401
    assert (await call(api, "POST", "/api/events/doorbell", "user"))[0] == 401


async def test_request_bodies_are_limited(api: Api) -> None:
    status, _ = await call(api, "POST", "/api/states/sensor.big", data=io.BytesIO(b"x" * (1024 * 1024 + 1)))
    assert status == 413
    assert api.hub.states.get("sensor.big") is None
