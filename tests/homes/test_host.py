"""Many homes in one process: each home its own core, every request in exactly one home."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import aiomqtt
import pytest

from hub.auth.store import hash_token
from hub.core.scope import HomeScope
from integrations.mqtt import api as mqtt_api
from tests.homes.conftest import HomesRun, get, ws_session

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def until(condition: Any, timeout: float = 5.0) -> None:
    """Wait until condition() holds (a message went through a real broker)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_each_home_is_its_own_core_with_its_record(homes_runtime: HomesRun) -> None:
    homes = homes_runtime.homes
    assert homes is not None
    a, b, villa = homes.get("flat-a"), homes.get("flat-b"), homes.get("villa")
    assert a and b and villa
    assert a.hub is not b.hub and a.hub.states is not b.hub.states and a.hub.bus is not b.hub.bus
    assert a.hub.config.scope == HomeScope("acme", "flat-a") and villa.hub.config.scope == HomeScope("zenith", "villa")
    assert (a.hub.config.name, a.hub.config.time_zone, b.hub.config.currency) == ("Flat A", "Europe/Berlin", "CHF")
    # A state or an event of one home never reaches another.
    seen_b: list[Any] = []
    b.hub.bus.listen("*", seen_b.append)
    a.hub.states.set("sensor.only_in_a", "1")
    a.hub.bus.fire("custom_event", {"x": 1})
    await asyncio.sleep(0)
    assert b.hub.states.get("sensor.only_in_a") is None and seen_b == []
    # Each home's MQTT client lives under its own root and discovery prefix.
    root = a.record.topic_root
    assert root.endswith("/flat-a/") and villa.record.topic_root.endswith("/villa/")
    assert (mqtt_api(a.hub).topic_root, mqtt_api(a.hub).discovery_prefix) == (root, f"{root}homeassistant")
    assert mqtt_api(villa.hub).topic_root == villa.record.topic_root


async def test_discovery_under_a_homes_root_makes_entities_in_that_home_only(homes_runtime: HomesRun,
                                                                             mosquitto_server: Any) -> None:
    homes = homes_runtime.homes
    assert homes is not None
    a, b = homes.get("flat-a"), homes.get("flat-b")
    assert a and b
    root = a.record.topic_root
    config = json.dumps({"name": "Power", "unique_id": "m1_power", "state_topic": f"{root}devices/m1/power"})
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port, identifier="m1") as device:
        await device.publish(f"{root}homeassistant/sensor/m1/power/config", config, qos=1, retain=True)
        await until(lambda: a.hub.states.get("sensor.power") is not None)
        await device.publish(f"{root}devices/m1/power", "230", qos=1)
        await until(lambda: a.hub.states.get("sensor.power").state == "230")
        # The same device config under another home's root is that home's alone.
        await device.publish(f"{b.record.topic_root}homeassistant/sensor/m1/power/config", config, qos=1, retain=True)
        await until(lambda: b.hub.states.get("sensor.power") is not None)
    assert a.hub.states.get("sensor.power").state == "230"
    assert b.hub.states.get("sensor.power").state == "unknown"  # its state topic is home A's


async def test_rest_requests_act_in_the_named_or_the_users_first_home(homes_runtime: HomesRun) -> None:
    homes = homes_runtime.homes
    assert homes is not None
    homes.get("flat-a").hub.states.set("sensor.a", "in a")  # type: ignore[union-attr]
    homes.get("flat-b").hub.states.set("sensor.b", "in b")  # type: ignore[union-attr]
    homes.get("villa").hub.states.set("sensor.v", "in villa")  # type: ignore[union-attr]

    def ids(body: Any) -> set[str]:
        return {s["entity_id"] for s in body if s["entity_id"] in ("sensor.a", "sensor.b", "sensor.v")}

    status, body = await get(homes_runtime, "/api/states", "alice")
    assert status == 200 and ids(body) == {"sensor.a"}  # her first home
    status, body = await get(homes_runtime, "/api/states", "alice", "flat-b")
    assert status == 200 and ids(body) == {"sensor.b"}
    status, body = await get(homes_runtime, "/api/states?home_id=flat-b", "alice")
    assert status == 200 and ids(body) == {"sensor.b"}
    status, body = await get(homes_runtime, "/api/config", "alice", "flat-b")
    assert (status, body["location_name"], body["currency"]) == (200, "Flat B", "CHF")
    status, body = await get(homes_runtime, "/api/states/sensor.a", "alice", "flat-b")
    assert status == 404  # another home's entity id is no entity here


async def test_a_home_the_user_has_no_role_in_answers_404(homes_runtime: HomesRun) -> None:
    attempts = [
        ("bob", "flat-b"),      # same tenant, no role in that home
        ("carol", "flat-a"),    # another tenant's home
        ("alice", "villa"),
        ("alice", "nowhere"),   # no such home: the same answer
        ("dave", "flat-a"),     # a user with no home at all
    ]
    for user, home in attempts:
        for path in ("/api/states", "/api/config", "/api/v1/devices", "/api/"):
            status, _ = await get(homes_runtime, path, user, home)
            assert status == 404, (user, home, path, status)


async def test_a_user_without_a_home_is_refused_without_naming_one(homes_runtime: HomesRun) -> None:
    status, _ = await get(homes_runtime, "/api/states", "dave")
    assert status == 401


async def test_websocket_acts_in_the_home_of_its_url_with_the_users_role_there(homes_runtime: HomesRun) -> None:
    homes = homes_runtime.homes
    assert homes is not None
    homes.get("flat-b").hub.states.set("sensor.b", "in b")  # type: ignore[union-attr]
    answer, results = await ws_session(homes_runtime, "alice", "flat-b",
                                       [{"type": "get_states"}, {"type": "auth/current_user"}])
    assert answer == "auth_ok"
    shown = {s["entity_id"] for s in results[0]["result"]}
    assert "sensor.b" in shown and not shown & {"sensor.a", "sensor.v", "sensor.only_in_a"}
    assert results[1]["result"]["role"] == "user"  # an owner elsewhere, a user in flat-b
    answer, _ = await ws_session(homes_runtime, "bob", "flat-b", [])
    assert answer == "auth_invalid"
    # No home named: the socket acts in the first home of the token's user.
    homes.get("villa").hub.states.set("sensor.v", "in villa")  # type: ignore[union-attr]
    answer, results = await ws_session(homes_runtime, "carol", None, [{"type": "get_states"}])
    shown = {s["entity_id"] for s in results[0]["result"]}
    assert answer == "auth_ok" and "sensor.v" in shown and "sensor.b" not in shown
    answer, _ = await ws_session(homes_runtime, "dave", None, [])  # no home at all
    assert answer == "auth_invalid"


async def test_a_websocket_naming_an_unknown_home_is_refused_before_the_upgrade(homes_runtime: HomesRun) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await session.ws_connect(homes_runtime.url + "/api/websocket?home_id=nowhere")
    assert caught.value.status == 404


async def test_a_homes_own_folder_holds_its_automations(homes_runtime: HomesRun) -> None:
    homes = homes_runtime.homes
    assert homes is not None
    a = homes.get("flat-a")
    assert a is not None and a.hub.config.config_dir is not None
    assert (a.hub.config.config_dir / "automations.yaml").is_file()
    assert a.hub.config.config_dir.name == "flat-a" and a.hub.config.config_dir.parent.name == "homes"


# Which homes a user may act in (hub/homes/listing.py): `homes/list` and `GET /api/v1/homes`.
# alice is owner in flat-a and user in flat-b (acme), bob user in flat-a, carol owner in villa
# (zenith), dave has no home.

ALICE = [
    {"id": "flat-a", "name": "Flat A", "tenant": "acme", "role": "owner"},
    {"id": "flat-b", "name": "Flat B", "tenant": "acme", "role": "user"},
]


def without_current(homes: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in home.items() if k != "current"} for home in homes]


def current(homes: list[dict[str, object]]) -> list[object]:
    return [home["id"] for home in homes if home["current"]]


async def test_the_socket_lists_the_users_homes_with_the_role_in_each_in_every_home(homes_runtime: HomesRun) -> None:
    for here in ("flat-a", "flat-b", None):
        answer, results = await ws_session(homes_runtime, "alice", here, [{"type": "homes/list"}])
        assert answer == "auth_ok"
        assert results[0]["success"], results
        homes = results[0]["result"]
        assert without_current(homes) == ALICE
        # The socket that names no home acts in the user's first home.
        assert current(homes) == [here or "flat-a"]


async def test_rest_lists_the_same_homes_and_marks_the_named_one(homes_runtime: HomesRun) -> None:
    status, homes = await get(homes_runtime, "/api/v1/homes", "alice", "flat-b")
    assert status == 200, homes
    assert without_current(homes) == ALICE
    assert current(homes) == ["flat-b"]
    status, homes = await get(homes_runtime, "/api/v1/homes", "bob")
    assert (status, homes) == (200, [{"id": "flat-a", "name": "Flat A", "tenant": "acme", "role": "user",
                                      "current": True}])


async def test_another_tenants_homes_never_appear(homes_runtime: HomesRun) -> None:
    # carol (zenith) sees her villa only, from every door; acme's users never see the villa.
    _answer, results = await ws_session(homes_runtime, "carol", None, [{"type": "homes/list"}])
    assert [h["id"] for h in results[0]["result"]] == ["villa"]
    status, homes = await get(homes_runtime, "/api/v1/homes", "carol", "villa")
    assert (status, [h["id"] for h in homes]) == (200, ["villa"])
    for home in ("flat-a", "flat-b"):
        status, _body = await get(homes_runtime, "/api/v1/homes", "carol", home)
        assert status == 404
    for user in ("alice", "bob"):
        status, homes = await get(homes_runtime, "/api/v1/homes", user)
        assert status == 200
        assert "villa" not in {h["id"] for h in homes} and "zenith" not in {h["tenant"] for h in homes}
        status, _body = await get(homes_runtime, "/api/v1/homes", user, "villa")
        assert status == 404


async def test_a_user_without_a_home_gets_no_list(homes_runtime: HomesRun) -> None:
    status, _body = await get(homes_runtime, "/api/v1/homes", "dave")
    assert status == 401
    answer, _results = await ws_session(homes_runtime, "dave", None, [{"type": "homes/list"}])
    assert answer == "auth_invalid"


async def test_a_homes_owner_sees_and_changes_its_members_only(homes_runtime: HomesRun) -> None:
    homes = homes_runtime.homes
    flat_a, flat_b = homes.get("flat-a"), homes.get("flat-b")
    assert flat_a is not None and flat_b is not None
    bob = await flat_a.auth.user_by_name("bob")
    alice = await flat_a.auth.user_by_name("alice")
    assert bob is not None and alice is not None and alice.role == "owner"
    # erin owns flat-b: its members, with their role there (alice is a user in flat-b).
    answer, results = await ws_session(homes_runtime, "erin", "flat-b", [
        {"type": "config/auth/list"},
        {"type": "config/auth/update", "user_id": bob.id, "group_ids": ["system-admin"]},
        {"type": "config/auth/delete", "user_id": bob.id},
        {"type": "config/auth/update", "user_id": alice.id, "group_ids": ["system-admin"]},
    ])
    assert answer == "auth_ok"
    listed = {u["username"] or u["name"]: u["group_ids"] for u in results[0]["result"]}
    assert set(listed) == {"alice", "erin", "frank"}, listed
    assert listed["alice"] == ["system-users"]
    assert [r["success"] for r in results[1:]] == [False, False, True]  # bob is no member of flat-b
    # alice is an admin of flat-b now, and still the owner of flat-a; bob is untouched.
    assert await homes.role_of(alice.id, flat_b.record.scope) == "admin"
    assert await homes.role_of(alice.id, flat_a.record.scope) == "owner"
    assert (await flat_a.auth.get_user(alice.id)).role == "owner"  # type: ignore[union-attr]
    assert await flat_a.auth.get_user(bob.id) == bob
    await flat_b.auth.update_user(alice.id, role="user")


async def test_a_login_and_its_refresh_token_act_in_the_home_they_were_made_in(homes_runtime: HomesRun) -> None:
    homes = homes_runtime.homes
    homes.get("villa").hub.states.set("sensor.v", "in villa")  # type: ignore[union-attr]
    homes.get("flat-b").hub.states.set("sensor.b", "in b")  # type: ignore[union-attr]
    url = homes_runtime.url
    async with aiohttp.ClientSession() as session:
        # No home named: carol's login is her home's (villa), as is the session it starts.
        login = {"username": "carol", "password": "correct horse battery"}
        async with session.post(url + "/api/v1/auth/login", json=login) as response:
            assert response.status == 200, await response.text()
            pair = await response.json()
        found = await homes.auth.token_home(hash_token(pair["refresh_token"]))
        assert found is not None and found[0] == HomeScope("zenith", "villa")
        async with session.post(url + "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}) as response:
            assert response.status == 200
            pair = await response.json()
        found = await homes.auth.token_home(hash_token(pair["refresh_token"]))
        assert found is not None and found[0] == HomeScope("zenith", "villa")
        async with session.get(url + "/api/states", headers={"Authorization": f"Bearer {pair['access_token']}"}) as r:
            assert {s["entity_id"] for s in await r.json()} >= {"sensor.v"}
        # A login that names alice's other home starts a session there; refreshed without a name, it stays there.
        login = {"username": "alice", "password": "correct horse battery"}
        async with session.post(url + "/api/v1/auth/login", json=login, headers={"X-Home-Id": "flat-b"}) as response:
            pair = await response.json()
        async with session.post(url + "/auth/token", data={"grant_type": "refresh_token",
                                                           "refresh_token": pair["refresh_token"]}) as response:
            assert response.status == 200
            refreshed = await response.json()
        found = await homes.auth.token_home(hash_token(refreshed["refresh_token"]))
        assert found is not None and found[0].home_id == "flat-b"
        # Its access tokens act there too, named or not (alice's first home is flat-a).
        for access in (pair["access_token"], refreshed["access_token"]):
            async with session.get(url + "/api/config", headers={"Authorization": f"Bearer {access}"}) as response:
                assert (await response.json())["location_name"] == "Flat B"
        # carol's login naming a home she has no role in: refused like a wrong password.
        async with session.post(url + "/api/v1/auth/login", json={"username": "carol", "password": "correct horse battery"},
                                headers={"X-Home-Id": "flat-a"}) as response:
            assert response.status == 401


async def test_removing_a_user_from_a_home_keeps_their_other_homes(homes_runtime: HomesRun) -> None:
    homes = homes_runtime.homes
    flat_a, flat_b = homes.get("flat-a"), homes.get("flat-b")
    assert flat_a is not None and flat_b is not None
    alice = await flat_a.auth.user_by_name("alice")
    assert alice is not None
    await flat_b.auth.remove_user(alice.id)  # erin's Users page in flat-b
    assert await flat_b.auth.get_user(alice.id) is None
    assert (await flat_a.auth.get_user(alice.id)).role == "owner"  # type: ignore[union-attr]
    status, _ = await get(homes_runtime, "/api/states", "alice", "flat-b")
    assert status == 404
    # A user whose last home lets them go is gone.
    flat_b.auth._rounds = 4
    gina = await flat_b.auth.add_user("gina", "correct horse battery", "user")
    await flat_b.auth.remove_user(gina.id)
    assert await homes.auth.find_login("gina") is None
    await homes.declared.apply(alice, flat_b.record.scope)  # back as homes: declares her
    homes.auth.forget_users(alice.id)
    assert await homes.role_of(alice.id, flat_b.record.scope) == "user"
