"""Bodies the dispatcher of a hub of many homes must not recurse over (real PostgreSQL and
Mosquitto): a login or refresh body nested 100,000 levels deep is refused with a 400, with no
traceback logged."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import bootstrap
from tests.homes.configs import write_homes_config
from tests.homes.conftest import grant_roles
from tests.pg_roles import make_roles

pytestmark = pytest.mark.services
WITHIN = 8.0  # seconds a change of the homes may take on a loaded machine
DEEP = 100_000  # levels of nesting


async def _answer(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return await response.text()


@pytest.fixture
async def two_tenants(tmp_path: Path, pg_url: str, mosquitto_server: Any) -> AsyncIterator[tuple[bootstrap.Runtime, str, str]]:
    """A hub of three homes of two tenants; its runtime, alice's token (owner of flat-a) and the owner's URL."""
    roles = await make_roles(pg_url)
    made = write_homes_config(tmp_path / "config", roles.storage_yaml(), mosquitto_server.url,
                              [{"id": "flat-a", "tenant": "acme"}, {"id": "flat-b", "tenant": "acme"},
                               {"id": "villa", "tenant": "zenith"}])
    runtime = await bootstrap.start(made.folder, tmp_path / "data", port=0,
                                    checked=await grant_roles(roles, made.folder))
    try:
        assert runtime.homes is not None
        flat = runtime.homes.get("flat-a")
        assert flat is not None
        flat.auth._rounds = 4  # as tests/api do: hashing is not what this measures
        alice = await flat.auth.add_user("alice", "correct horse battery", "owner")
        yield runtime, await flat.auth.create_long_lived_token(alice.id, "t"), roles.owner_url
    finally:
        await bootstrap.stop(runtime)


async def _deep_chunks(depth: int) -> AsyncIterator[bytes]:
    """A body of unknown length (chunked): what the dispatcher reads whole, up to its limit."""
    yield b"[" * depth
    yield b"]" * depth


async def test_a_deeply_nested_login_or_refresh_body_is_refused_without_a_traceback(
        two_tenants: tuple[bootstrap.Runtime, str, str], caplog: pytest.LogCaptureFixture) -> None:
    runtime, _token, _owner_url = two_tenants
    # 30,000 levels fit the dispatcher's 64 KiB limit for a body it looks into; 100,000 are sent chunked.
    bodies = {"30,000 levels": lambda: b"[" * 30_000 + b"]" * 30_000, f"{DEEP:,} levels": lambda: _deep_chunks(DEEP),
              "an object": lambda: b'{"username":' * 20_000 + b'"a"' + b"}" * 20_000}
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as session:
        for path in ("/api/v1/auth/login", "/api/v1/auth/refresh"):
            for what, body in bodies.items():
                async with session.post(runtime.url + path, data=body(),
                                        headers={"Content-Type": "application/json"}) as response:
                    answer = await _answer(response)
                    assert response.status in (400, 401), (path, what, response.status, answer)
                    assert isinstance(answer, dict) and answer["message"].startswith("Expected a JSON object"), answer
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not noisy, [r.getMessage() for r in noisy]
