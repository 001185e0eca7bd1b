"""Lockout without lock-in: guessing is slowed per (account, address) and per address, never per account."""

from __future__ import annotations

import asyncio
from typing import Any

from hub import bootstrap
from hub.core.clock import ManualClock
from tests.hubs import write_config

from .conftest import PASSWORD, Api, cli, from_address, post_json

OTHER = "127.0.0.2"  # a second client address: all of 127.0.0.0/8 is this machine's loopback


async def login(session: Any, url: str, user: str = "owner", password: str = PASSWORD) -> tuple[int, Any]:
    return await post_json(session, f"{url}/api/v1/auth/login", {"username": user, "password": password})


async def test_six_wrong_passwords_then_the_right_one_from_another_address(api: Api) -> None:
    for _ in range(6):
        assert (await login(api.session, api.url, password="wrong guess"))[0] in (401, 429)
    # From the guessing address, even the right password waits (the attacker learns nothing).
    status, body = await login(api.session, api.url)
    assert status == 429 and "try again in" in body["message"]
    # The owner from another address is not locked in.
    async with from_address(OTHER) as elsewhere:
        assert (await login(elsewhere, api.url))[0] == 200
    rows = await api.hub.auth.audit.entries(action="login")
    assert [(r.remote, r.result) for r in rows[:3]] == [(OTHER, "ok"), ("127.0.0.1", "throttled"), ("127.0.0.1", "throttled")]


async def test_backoff_doubles_and_ends(api: Api) -> None:
    throttle = api.hub.auth.throttle
    clock = ManualClock(throttle.clock.time())
    throttle.clock = clock
    for _ in range(5):
        assert (await login(api.session, api.url, user="user", password="wrong"))[0] == 401
    waits = []
    for _ in range(3):
        status, _ = await login(api.session, api.url, user="user")
        assert status == 429
        wait = await throttle.retry_after("127.0.0.1", "user")
        waits.append(round(wait))
        await clock.advance(wait + 0.5)
        assert (await login(api.session, api.url, user="user", password="wrong"))[0] == 401
    assert waits == [30, 60, 120]
    await clock.advance(await throttle.retry_after("127.0.0.1", "user") + 0.5)
    assert (await login(api.session, api.url, user="user"))[0] == 200
    # A good login forgets the pair: the next mistake is free again.
    assert (await login(api.session, api.url, user="user", password="wrong"))[0] == 401
    assert await throttle.retry_after("127.0.0.1", "user") == 0


async def test_guessing_across_accounts_slows_the_address(api: Api) -> None:
    for attempt in range(20):
        assert (await login(api.session, api.url, user=f"guess{attempt}", password="x"))[0] in (401, 429)
    assert (await login(api.session, api.url, user="admin"))[0] == 429
    async with from_address(OTHER) as elsewhere:
        assert (await login(elsewhere, api.url, user="admin"))[0] == 200


async def test_counts_survive_a_restart_and_unlock_clears_them(api: Api, start_hub: Any) -> None:
    for _ in range(5):
        await login(api.session, api.url, user="user", password="wrong")
    config, data = api.hub.config.config_dir, api.hub.config.data_dir
    await bootstrap.stop(api.runtime)
    runtime = await start_hub(config, data)
    assert (await login(api.session, runtime.url, user="user"))[0] == 429
    code, out = await asyncio.to_thread(cli, "user", "unlock", "user", "-c", str(config), "--data", str(data))
    assert code == 0 and "cleared 1" in out, out
    assert (await login(api.session, runtime.url, user="user"))[0] == 200
    assert (await asyncio.to_thread(cli, "user", "unlock", "nobody", "-c", str(config), "--data", str(data)))[0] == 1


async def test_home_assistant_ip_ban(tmp_path: Any, start_hub: Any) -> None:
    config = write_config(tmp_path / "config", "http:\n  ip_ban_enabled: true\n  login_attempts_threshold: 3\n")
    runtime = await start_hub(config, tmp_path / "data")
    runtime.hub.auth._rounds = 4
    await runtime.hub.auth.add_user("owner", PASSWORD, "owner")
    async with from_address(OTHER) as attacker, from_address("127.0.0.3") as owner:
        for _ in range(3):
            assert (await login(attacker, runtime.url, password="wrong"))[0] == 401
        # Banned: every request from there is refused, the public ones too.
        async with attacker.get(f"{runtime.url}/api/") as response:
            assert response.status == 403
        assert (await login(attacker, runtime.url))[0] == 403
        assert (await login(owner, runtime.url))[0] == 200
        where = ["-c", str(config), "--data", str(tmp_path / "data")]
        code, out = await asyncio.to_thread(cli, "auth", "bans", *where)
        assert code == 0 and OTHER in out and "3 failed logins" in out
        assert (await asyncio.to_thread(cli, "auth", "unban", OTHER, *where))[0] == 0
        await runtime.hub.auth.poll()
        assert (await login(attacker, runtime.url))[0] == 200


async def test_x_forwarded_for_is_believed_only_from_trusted_proxies(api: Api, tmp_path: Any, start_hub: Any) -> None:
    # Not set up for a proxy: the header is refused, so it cannot dodge the throttle.
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    for _ in range(6):
        await login(api.session, api.url, password="wrong")
    status, body = await post_json(api.session, f"{api.url}/api/v1/auth/login",
                                   {"username": "owner", "password": PASSWORD}, headers=spoofed)
    assert status == 400
    # Behind a trusted proxy (127.0.0.1 here), the client's address is the one that counts.
    config = write_config(tmp_path / "proxied", "http:\n  use_x_forwarded_for: true\n  trusted_proxies: 127.0.0.1\n")
    runtime = await start_hub(config, tmp_path / "proxied-data")
    runtime.hub.auth._rounds = 4
    await runtime.hub.auth.add_user("owner", PASSWORD, "owner")
    for _ in range(6):
        await post_json(api.session, f"{runtime.url}/api/v1/auth/login", {"username": "owner", "password": "x"},
                        headers={"X-Forwarded-For": "198.51.100.7"})
    assert (await post_json(api.session, f"{runtime.url}/api/v1/auth/login", {"username": "owner", "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.7"}))[0] == 429
    assert (await post_json(api.session, f"{runtime.url}/api/v1/auth/login", {"username": "owner", "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.8, 127.0.0.1"}))[0] == 200
    rows = await runtime.hub.auth.audit.entries(action="login")
    assert rows[0].remote == "198.51.100.8" and rows[1].remote == "198.51.100.7"
    # A proxy that is not trusted, and garbage in the header: refused.
    async with from_address(OTHER) as untrusted:
        assert (await login(untrusted, runtime.url))[0] == 200
        status, _ = await post_json(untrusted, f"{runtime.url}/api/v1/auth/login",
                                    {"username": "owner", "password": PASSWORD}, headers=spoofed)
        assert status == 400
    status, _ = await post_json(api.session, f"{runtime.url}/api/v1/auth/login",
                                {"username": "owner", "password": PASSWORD}, headers={"X-Forwarded-For": "not an address"})
    assert status == 400
