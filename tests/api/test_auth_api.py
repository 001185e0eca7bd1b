"""Login, JWT access tokens, refresh rotation with reuse detection, lockout and the audit trail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.core.clock import ManualClock

from .conftest import PASSWORD, Api, WsClient


async def post(api: Api, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any, Any]:
    async with api.session.post(f"{api.url}{path}", json=body, **kwargs) as response:
        data = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, data, response.headers


async def login(api: Api, user: str = "user", password: str = PASSWORD) -> tuple[int, Any, Any]:
    return await post(api, "/api/v1/auth/login", {"username": user, "password": password})


async def test_login_gives_a_jwt_that_opens_the_api(api: Api) -> None:
    status, tokens, headers = await login(api)
    assert status == 200
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    assert tokens["access_token"].count(".") == 2
    assert headers["Cache-Control"] == "no-store"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with api.session.get(f"{api.url}/api/states", headers=bearer) as response:
        assert response.status == 200
    # A refresh token is no bearer credential.
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    async with api.session.get(f"{api.url}/api/states", headers=refresh) as response:
        assert response.status == 401


async def test_access_token_expires_after_15_minutes(api: Api) -> None:
    auth = api.hub.auth
    _, session = await auth.create_refresh_token(api.users["user"].id)
    token = auth.access.issue(api.users["user"].id, session.family_id)
    bearer = {"Authorization": f"Bearer {token}"}
    real_clock = auth.access.clock
    issued = real_clock.time()
    auth.access.clock = ManualClock(issued + timedelta(minutes=14, seconds=59).total_seconds())
    async with api.session.get(f"{api.url}/api/", headers=bearer) as response:
        assert response.status == 200
    auth.access.clock = ManualClock(issued + timedelta(minutes=15).total_seconds())
    async with api.session.get(f"{api.url}/api/", headers=bearer) as response:
        assert response.status == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    auth.access.clock = real_clock
    async with api.session.get(f"{api.url}/api/", headers={"Authorization": f"Bearer {forged}"}) as response:
        assert response.status == 401


async def test_bad_login_bodies(api: Api) -> None:
    assert (await post(api, "/api/v1/auth/login", [1]))[0] == 400
    assert (await post(api, "/api/v1/auth/login", {"username": "user"}))[0] == 400
    status, body, _ = await login(api, password="wrong")
    assert status == 401 and body == {"message": "Invalid username or password"}
    assert (await login(api, user="nobody"))[0] == 401


async def test_refresh_rotates_and_reuse_revokes_the_family(api: Api) -> None:
    _, first, _ = await login(api)
    status, second, _ = await post(api, "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    status, third, _ = await post(api, "/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert status == 200
    # The first token was spent: presenting it again is a replay, so the whole session dies.
    status, body, _ = await post(api, "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert status == 401 and "already used" in body["message"]
    status, _, _ = await post(api, "/api/v1/auth/refresh", {"refresh_token": third["refresh_token"]})
    assert status == 401
    # Another login session of the same user is untouched.
    _, other, _ = await login(api)
    assert (await post(api, "/api/v1/auth/refresh", {"refresh_token": other["refresh_token"]}))[0] == 200
    assert (await post(api, "/api/v1/auth/refresh", {"refresh_token": "made-up"}))[0] == 401
    rows = await api.hub.auth.audit.entries(action="refresh_token_reuse")
    assert rows and rows[0].user_name == "user"


async def test_logout_ends_the_session(api: Api) -> None:
    _, tokens, _ = await login(api)
    assert (await post(api, "/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]}))[0] == 200
    assert (await post(api, "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}))[0] == 401


async def test_home_assistant_token_endpoint_rotates_too(api: Api) -> None:
    _, tokens, _ = await login(api)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": "http://app/"}
    async with api.session.post(f"{api.url}/auth/token", data=form) as response:
        assert response.status == 200
        body = await response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["refresh_token"] != tokens["refresh_token"]  # the successor: the client must keep it
    client = await WsClient.open(api.session, api.url)
    await client.authenticate(body["access_token"])
    # The successor works, on this endpoint as on the device API's.
    async with api.session.post(f"{api.url}/auth/token", data={**form, "refresh_token": body["refresh_token"]}) as response:
        assert response.status == 200
        latest = await response.json()
    # The spent token again is a replay: the session ends, its socket is closed at once.
    async with api.session.post(f"{api.url}/auth/token", data=form) as response:
        assert response.status == 400 and (await response.json())["error"] == "invalid_grant"
    assert (await client.ws.receive(timeout=5)).type.name in ("CLOSE", "CLOSED", "CLOSING")
    async with api.session.post(f"{api.url}/auth/token", data={**form, "refresh_token": latest["refresh_token"]}) as response:
        assert response.status == 400
    async with api.session.post(f"{api.url}/auth/token", data={**form, "refresh_token": "x"}) as response:
        assert response.status == 400 and await response.json() == {"error": "invalid_grant"}
    async with api.session.post(f"{api.url}/auth/token", data={"grant_type": "password"}) as response:
        assert response.status == 400 and await response.json() == {"error": "unsupported_grant_type"}
    _, other, _ = await login(api)
    async with api.session.post(f"{api.url}/auth/token",
                                data={"action": "revoke", "token": other["refresh_token"]}) as response:
        assert response.status == 200
    async with api.session.post(f"{api.url}/auth/token", data={**form, "refresh_token": other["refresh_token"]}) as response:
        assert response.status == 400


async def test_logins_are_audited(api: Api) -> None:
    await login(api)
    await login(api, password="wrong")
    admin = await api.ws("owner")
    rows = await admin.command("audit/list", action="login")
    assert [(r["user_name"], r["result"]) for r in rows[:2]] == [("user", "invalid_credentials"), ("user", "ok")]
    assert rows[0]["remote"] == "127.0.0.1"
