"""Which homes a user may act in (hub/homes/listing.py): `homes/list` and `GET /api/v1/homes`.

Three homes of two tenants (tests/homes/conftest.py): alice is owner in flat-a and user in
flat-b (acme), bob is user in flat-a, carol is owner in villa (zenith), dave has no home.
"""

from __future__ import annotations

import pytest

from tests.homes.conftest import HomesRun, get, ws_session

pytestmark = pytest.mark.asyncio(loop_scope="module")

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
