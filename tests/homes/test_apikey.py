"""`hub apikey create|list|revoke --home` in a hub of many homes (real PostgreSQL and Mosquitto):
a key made from the shell for one home writes into that home only, at once, while the hub runs;
another home refuses it; without --home the command lists the homes to choose from."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import bootstrap, cli
from tests.homes.configs import write_homes_config
from tests.homes.conftest import grant_roles
from tests.hubs import write_config
from tests.pg_roles import make_roles

pytestmark = pytest.mark.services
READING = {"measurements": {"power": 230.5}}


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


async def _post(url: str, key: str, home: str | None = None) -> int:
    params = {"home_id": home} if home is not None else {}
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}/api/v1/telemetry", json=READING, params=params, headers={"X-API-Key": key}) as response:
        return response.status


async def test_a_key_made_from_the_shell_for_one_home_works_there_only(
        tmp_path: Path, pg_url: str, mosquitto_server: Any) -> None:
    roles = await make_roles(pg_url)
    config = write_homes_config(tmp_path / "config", roles.storage_yaml(), mosquitto_server.url,
                                [{"id": "flat-a", "tenant": "acme", "name": "Flat A"}, {"id": "villa", "tenant": "zenith"}],
                                sections="http_ingest:\n").folder
    data = tmp_path / "data"
    where = ("-c", str(config), "--data", str(data))
    runtime = await bootstrap.start(config, data, port=0, checked=await grant_roles(roles, config))
    try:
        assert runtime.homes is not None
        flat, villa = runtime.homes.get("flat-a"), runtime.homes.get("villa")
        assert flat is not None and villa is not None

        code, _, err = await asyncio.to_thread(_run, "apikey", "create", "barn meter", *where)
        assert code == 1
        assert "this hub serves many homes: name one with --home (homes: " in err
        assert "flat-a (Flat A, acme)" in err and "villa (villa, zenith)" in err
        code, _, err = await asyncio.to_thread(_run, "apikey", "list", "--home", "attic", *where)
        assert code == 1 and "--home attic: no such home (homes: flat-a (Flat A, acme), villa" in err

        # villa: not the first home, which answers what routes nowhere.
        code, key, note = await asyncio.to_thread(_run, "apikey", "create", "barn meter", "--home", "villa", *where)
        assert code == 0, note
        key = key.strip()
        key_id = note.split()[3]
        # Routed at once by the key alone (the running hub was told), and named in its home.
        began = time.monotonic()
        while await _post(runtime.url, key) != 201:
            assert time.monotonic() - began < 8, "the key made from the shell never routed"
            await asyncio.sleep(0.05)
        assert await _post(runtime.url, key, "villa") == 201
        assert villa.hub.states.get("sensor.barn_meter_power") is not None
        # The other home refuses it: named there, the key is a wrong key.
        assert await _post(runtime.url, key, "flat-a") == 401
        assert flat.hub.states.get("sensor.barn_meter_power") is None

        code, listing, _ = await asyncio.to_thread(_run, "apikey", "list", "--home", "flat-a", *where)
        assert code == 0 and key_id not in listing
        code, listing, _ = await asyncio.to_thread(_run, "apikey", "list", "--home", "villa", *where)
        assert code == 0 and key_id in listing and "barn meter" in listing
        # Revoked from the other home: no such key there; from its own: refused at once.
        assert (await asyncio.to_thread(_run, "apikey", "revoke", key_id, "--home", "Flat A", *where))[0] == 1
        assert (await asyncio.to_thread(_run, "apikey", "revoke", key_id, "--home", "villa", *where))[0] == 0
        assert await _post(runtime.url, key) == 401
    finally:
        await bootstrap.stop(runtime)


async def test_a_key_made_while_the_hub_was_not_listening_routes_once_it_listens_again(
        tmp_path: Path, pg_url: str, mosquitto_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub hears of a key made from the shell through a LISTEN connection; one made while that
    connection was lost (PostgreSQL restarted, a network blip) routes once the hub listens again."""
    roles = await make_roles(pg_url)
    config = write_homes_config(tmp_path / "config", roles.storage_yaml(), mosquitto_server.url,
                                [{"id": "flat-a", "tenant": "acme"}, {"id": "villa", "tenant": "zenith"}],
                                sections="http_ingest:\n").folder
    where = ("-c", str(config), "--data", str(tmp_path / "data"))
    runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=await grant_roles(roles, config))
    try:
        assert runtime.homes is not None and runtime.homes.watch is not None
        watch = runtime.homes.watch
        await _within(lambda: watch._connection is not None, "the hub listens")
        back = asyncio.Event()
        listen = watch._listen

        async def listen_when_back() -> bool:
            await back.wait()
            return await listen()

        monkeypatch.setattr(watch, "_listen", listen_when_back)
        watch._connection.terminate()  # lost: the watch makes it again when `back` is set
        code, key, note = await asyncio.to_thread(_run, "apikey", "create", "barn meter", "--home", "villa", *where)
        assert code == 0, note
        key = key.strip()
        assert await _post(runtime.url, key) == 401  # nobody heard of it: the first home's wrong key
        back.set()
        began = time.monotonic()
        while await _post(runtime.url, key) != 201:
            assert time.monotonic() - began < 8, "the key made while the hub was not listening never routed"
            await asyncio.sleep(0.05)
        assert runtime.homes.get("villa").hub.states.get("sensor.barn_meter_power") is not None  # type: ignore[union-attr]
    finally:
        await bootstrap.stop(runtime)


async def _within(condition: Any, what: str, timeout: float = 8.0) -> None:
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.05)


def test_a_single_home_hub_refuses_home(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", "http_ingest:\n")
    code, _, err = _run("apikey", "list", "--home", "flat-a", "-c", str(config), "--data", str(tmp_path / "data"))
    assert code == 1 and "--home flat-a: this hub serves one home (no `homes:` section)" in err
    code, _, _ = _run("apikey", "list", "-c", str(config), "--data", str(tmp_path / "data"))
    assert code == 0
