"""Sessions that end: logout, revoked sessions and revoked tokens stop working on the next request."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from .conftest import PASSWORD, Api, WsClient, cli, post_json


async def login(api: Api, user: str = "user") -> dict[str, Any]:
    status, tokens = await post_json(api.session, f"{api.url}/api/v1/auth/login", {"username": user, "password": PASSWORD})
    assert status == 200, tokens
    return tokens  # type: ignore[no-any-return]


async def get(api: Api, bearer: str, path: str = "/api/states") -> int:
    async with api.session.get(f"{api.url}{path}", headers={"Authorization": f"Bearer {bearer}"}) as response:
        return response.status


async def closed(client: WsClient) -> bool:
    """Whether the server closes the socket now (the next frame is a close)."""
    msg = await client.ws.receive(timeout=5)
    return msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def test_logout_ends_access_on_the_next_request(api: Api) -> None:
    tokens = await login(api)
    access = tokens["access_token"]
    assert await get(api, access) == 200
    socket = await WsClient.open(api.session, api.url)
    await socket.authenticate(access)
    status, _ = await post_json(api.session, f"{api.url}/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]})
    assert status == 200
    # The access token has 15 minutes left, and is refused at once; so is its open socket.
    assert await get(api, access) == 401
    assert await closed(socket)
    again = await WsClient.open(api.session, api.url)
    await again.receive()
    await again.send({"type": "auth", "access_token": access})
    assert (await again.receive())["type"] == "auth_invalid"
    # Another session of the same user goes on.
    other = await login(api)
    assert await get(api, other["access_token"]) == 200


async def test_revoking_a_session_from_the_token_list_ends_it(api: Api) -> None:
    tokens = await login(api)
    socket = await WsClient.open(api.session, api.url)
    await socket.authenticate(tokens["access_token"])
    manager = await api.ws("user")
    listed = await manager.command("auth/refresh_tokens")
    session = next(t for t in listed if t["type"] == "normal")
    assert await manager.command("auth/delete_refresh_token", refresh_token_id=session["id"]) == {}
    assert await closed(socket)
    assert await get(api, tokens["access_token"]) == 401
    status, _ = await post_json(api.session, f"{api.url}/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert status == 401


async def test_revocations_by_another_process_count_too(api: Api) -> None:
    """`hub token revoke` runs in its own process: the running hub learns of it from the database."""
    where = ["-c", str(api.hub.config.config_dir), "--data", str(api.hub.config.data_dir)]
    # A long-lived token: the next REST request already fails (looked up every time) ...
    long_lived = await api.hub.auth.create_long_lived_token(api.users["user"].id, "dashboard")
    socket = await WsClient.open(api.session, api.url)
    await socket.authenticate(long_lived)
    token_id = next(t.id for t in await api.hub.auth.list_tokens(api.users["user"].id) if t.label == "dashboard")
    code, out = await asyncio.to_thread(cli, "token", "revoke", token_id, *where)
    assert code == 0, out
    assert await get(api, long_lived) == 401
    # ... and its socket is closed by the next poll (every 2 s; run now instead of waiting).
    await api.hub.auth.poll()
    assert await closed(socket)
    # A login session revoked by another process: its access tokens die at the poll.
    tokens = await login(api)
    session_id = next(t.id for t in await api.hub.auth.list_tokens(api.users["user"].id) if t.kind == "refresh" and t.revoked_at is None)
    code, out = await asyncio.to_thread(cli, "token", "revoke", session_id, *where)
    assert code == 0, out
    await api.hub.auth.poll()
    assert await get(api, tokens["access_token"]) == 401


async def test_a_revoked_session_stays_dead_after_a_restart(api: Api, start_hub: Any) -> None:
    tokens = await login(api)
    await post_json(api.session, f"{api.url}/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]})
    config, data = api.hub.config.config_dir, api.hub.config.data_dir
    from hub import bootstrap

    await bootstrap.stop(api.runtime)
    restarted = await start_hub(config, data)
    async with api.session.get(f"{restarted.url}/api/states",
                               headers={"Authorization": f"Bearer {tokens['access_token']}"}) as response:
        assert response.status == 401
