"""Onboarding: the first user of a new hub, created from this machine or with the one-time code."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.hubs import write_config

from .conftest import WsClient

PROXIED = "http:\n  use_x_forwarded_for: true\n  trusted_proxies: 127.0.0.1\n"
LAN = {"X-Forwarded-For": "192.168.1.50"}  # through the trusted proxy: the client is on the LAN
OWNER = {"client_id": "http://hub.local/", "name": "Ann", "username": "ann", "password": "correct horse battery",
         "language": "en"}


def _code(caplog: pytest.LogCaptureFixture) -> str:
    codes = re.findall(r"onboarding code ([A-Z0-9]{4}-[A-Z0-9]{4})|the code is now ([A-Z0-9]{4}-[A-Z0-9]{4})",
                       caplog.text)
    assert codes, caplog.text
    return "".join(codes[-1])


async def _post(http: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with http.post(f"{url}/api/onboarding/users", json=body, headers=headers or {}) as answer:
        return answer.status, await answer.json()


async def _fresh(tmp_path: Path, start_hub: Any, name: str, config: str = "") -> Any:
    runtime = await start_hub(write_config(tmp_path / name, config or "homeassistant:\n  name: New\n"),
                              tmp_path / f"{name}-data")
    runtime.hub.auth._rounds = 4
    return runtime


async def test_onboarding_from_the_lan_needs_the_code_from_the_log(
        tmp_path: Path, start_hub: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "hub.api.onboarding")
    runtime = await _fresh(tmp_path, start_hub, "lan", PROXIED)
    code = _code(caplog)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{runtime.url}/api/onboarding") as answer:
            assert (await answer.json())[0] == {"step": "user", "done": False}
        status, answer = await _post(http, runtime.url, OWNER, LAN)
        assert status == 403 and "one-time onboarding code" in answer["message"]
        status, answer = await _post(http, runtime.url, {**OWNER, "code": "AAAA-BBBB"}, LAN)
        assert status == 403 and "wrong" in answer["message"]
        assert not await runtime.hub.auth.has_users()
        refused = await runtime.hub.auth.audit.entries(action="onboarding")
        assert refused and refused[0].remote == "192.168.1.50" and refused[0].result == "refused"

        # With the code (typed in lower case, as people do), the owner is made.
        status, answer = await _post(http, runtime.url, {**OWNER, "code": code.lower()}, LAN)
        assert status == 200, answer
        form = {"grant_type": "authorization_code", "code": answer["auth_code"], "client_id": OWNER["client_id"]}
        async with http.post(f"{runtime.url}/auth/token", data=form) as reply:
            assert reply.status == 200
            tokens = await reply.json()
        async with http.post(f"{runtime.url}/auth/token", data=form) as reply:
            assert reply.status == 400  # an auth code is spent once
        client = WsClient(await http.ws_connect(f"{runtime.url}/api/websocket"))
        await client.authenticate(tokens["access_token"])
        me = await client.command("auth/current_user")
        assert me["name"] == "ann" and me["is_owner"] is True

        # Done is done: nobody makes a second owner this way, even from this machine.
        status, answer = await _post(http, runtime.url, {**OWNER, "username": "eve"})
        assert status == 403 and answer["message"] == "User step already done"
        async with http.get(f"{runtime.url}/api/onboarding") as answer:
            assert all(step["done"] for step in await answer.json())


async def test_onboarding_from_this_machine_needs_no_code_and_guessing_changes_the_code(
        tmp_path: Path, start_hub: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "hub.api.onboarding")
    runtime = await _fresh(tmp_path, start_hub, "guess", PROXIED)
    first = _code(caplog)
    async with aiohttp.ClientSession() as http:
        for _ in range(5):
            assert (await _post(http, runtime.url, {**OWNER, "code": "WRNG-CODE"}, LAN))[0] == 403
        renewed = _code(caplog)
        assert renewed != first
        assert (await _post(http, runtime.url, {**OWNER, "code": first}, LAN))[0] == 403

    local = await _fresh(tmp_path, start_hub, "local")
    async with aiohttp.ClientSession() as http:
        status, answer = await _post(http, local.url, OWNER)
        assert status == 200 and answer["auth_code"]
        bad = await _post(http, local.url, {"username": 5})
        assert bad[0] == 403  # the step is done; the owner was made once
    assert [u.role for u in await local.hub.auth.list_users()] == ["owner"]


@pytest.mark.parametrize(("remote", "headers", "local"), [
    ("127.0.0.1", {}, True), ("::1", {}, True), ("::ffff:127.0.0.1", {}, True),
    ("192.168.1.50", {}, False), ("::ffff:192.168.1.50", {}, False), ("fe80::1%eth0", {}, False),
    ("127.0.0.1", {"X-Forwarded-For": "192.168.1.50"}, False), (None, {}, False),
])
def test_what_counts_as_this_machine(remote: str | None, headers: dict[str, str], local: bool) -> None:
    from aiohttp.test_utils import make_mocked_request

    from hub.api.onboarding import from_this_machine

    request = make_mocked_request("POST", "/api/onboarding/users", headers=headers).clone(remote=remote)
    assert from_this_machine(request) is local
