"""Requests while homes leave a running hub, and bodies the dispatcher must not recurse over (real
PostgreSQL and Mosquitto): under a stream of requests, a tenant suspended, a home removed and
then the last home gone, every answer is the home's own or a clear JSON 404/503, never a 500; a
login or refresh body nested 100,000 levels deep is refused with a 400, with no traceback logged."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import bootstrap
from hub.storage.engine import create_engine
from hub.tenancy.store import TenancyStore
from tests.homes.configs import write_homes_config
from tests.homes.conftest import grant_roles
from tests.pg_roles import make_roles

pytestmark = pytest.mark.services
WITHIN = 8.0  # seconds a change of the homes may take on a loaded machine
DEEP = 100_000  # levels of nesting


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str
    status: int
    body: Any
    retry_after: str | None
    after_last: bool  # sent once no home was served any more


async def _until(check: Any, what: str) -> None:
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > WITHIN:
            raise AssertionError(f"not within {WITHIN} s: {what}")
        await asyncio.sleep(0.02)


async def _answer(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return await response.text()


async def _stream(url: str, kind: str, method: str, path: str, headers: dict[str, str], body: Any,
                  stop: asyncio.Event, gone: asyncio.Event, answers: list[Answer], cut: list[str]) -> None:
    timeout = aiohttp.ClientTimeout(total=WITHIN)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not stop.is_set():
            after_last = gone.is_set()
            try:
                async with session.request(method, url + path, headers=headers, json=body) as response:
                    answers.append(Answer(kind, response.status, await _answer(response),
                                          response.headers.get("Retry-After"), after_last))
            except aiohttp.ServerDisconnectedError:
                cut.append(kind)  # served by a home that left meanwhile: its requests are ended (docs/homes.md)


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


async def test_requests_get_a_clear_answer_while_every_home_leaves(two_tenants: tuple[bootstrap.Runtime, str, str]
                                                                   ) -> None:
    runtime, token, owner_url = two_tenants
    host = runtime.homes
    assert host is not None
    requests = {
        # Looked up in the database before a home is picked: the homes change meanwhile.
        "unknown token": ("GET", "/api/", {"Authorization": "Bearer " + "x" * 43}, None),
        "login": ("POST", "/api/v1/auth/login", {}, {"username": "alice", "password": "not her password"}),
        "token": ("GET", "/api/", {"Authorization": f"Bearer {token}"}, None),
        "named": ("GET", "/api/", {"Authorization": f"Bearer {token}", "X-Home-Id": "flat-a"}, None),
        "page": ("GET", "/", {}, None),
    }
    stop, gone = asyncio.Event(), asyncio.Event()
    answers: list[Answer] = []
    cut: list[str] = []
    racing = {"unknown token", "login"}  # more of them in flight when the last home leaves
    streams = [asyncio.create_task(_stream(runtime.url, kind, *request, stop, gone, answers, cut))
               for kind, request in requests.items() for _ in range(5 if kind in racing else 2)]
    owner = create_engine(owner_url)
    try:
        await _until(lambda: {a.kind for a in answers} == set(requests), "an answer to every kind of request")
        store = TenancyStore(owner)
        await store.set_status("zenith", "suspended")
        await _until(lambda: host.get("villa") is None, "the suspended tenant's home left")
        await store.remove_home("acme", "flat-b", force=True)
        await _until(lambda: host.get("flat-b") is None, "the removed home left")
        await store.set_status("acme", "suspended")
        await _until(lambda: not host.homes, "the last home left")
        async with host.changing:  # the change that stopped it has finished
            gone.set()
        count = len(answers)
        await _until(lambda: len({a.kind for a in answers[count:] if a.after_last}) == len(requests),
                     "an answer to every kind of request once no home is served")
    finally:
        stop.set()
        await asyncio.gather(*streams)
        await owner.dispose()

    failed = [a for a in answers if a.status >= 500 and a.status != 503]
    assert not failed, failed[:3]
    for answer in answers:
        if answer.status in (404, 503):  # the dispatcher's own: JSON that says why
            assert isinstance(answer.body, dict) and answer.body.get("message"), answer
        if answer.status == 503:
            assert answer.retry_after == "1", answer
    last = {a.kind: a for a in answers if a.after_last}
    assert last["named"].status == 404
    for kind in ("unknown token", "login", "token", "page"):
        assert last[kind].status == 503, last[kind]
        assert last[kind].body["message"].startswith("503: this hub serves no home at the moment"), last[kind]
    print(f"{len(answers)} answers, {len(cut)} requests ended as their home left")


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
