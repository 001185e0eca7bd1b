"""/healthz answers while the process lives; /readyz says which dependency is not ready."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.hubs import write_config
from tests.ops.conftest import until


async def probe(url: str, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}{path}") as response:
        return response.status, await response.json()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_probes_need_no_auth_and_report_ready(tmp_path: Path, start_hub: Any) -> None:
    runtime = await start_hub(write_config(tmp_path / "config", "recorder:\n"))
    assert await probe(runtime.url, "/healthz") == (200, {"status": "ok"})
    status, body = await probe(runtime.url, "/readyz")
    assert status == 200
    assert body == {"status": "ready", "checks": {"hub": "ok", "database": "ok", "recorder": "ok"}}


async def test_readyz_names_an_unreachable_broker(tmp_path: Path, start_hub: Any) -> None:
    port = closed_port()
    runtime = await start_hub(write_config(tmp_path / "config", f"mqtt:\n  broker: mqtt://127.0.0.1:{port}\n"))
    status, body = await probe(runtime.url, "/readyz")
    assert status == 503 and body["status"] == "not ready"
    assert body["checks"]["mqtt"] == f"not connected to the MQTT broker at 127.0.0.1:{port}"
    assert body["checks"]["database"] == "ok"
    assert (await probe(runtime.url, "/healthz"))[0] == 200


@pytest.mark.services
async def test_readyz_follows_the_broker(tmp_path: Path, start_hub: Any, mosquitto_server: Any) -> None:
    runtime = await start_hub(write_config(tmp_path / "config", f"mqtt:\n  broker: {mosquitto_server.url}\n"))
    assert (await probe(runtime.url, "/readyz"))[0] == 200
    mosquitto_server.stop()
    try:
        body = await until(_not_ready(runtime.url), "readyz to turn 503 with the broker down")
        assert "not connected to the MQTT broker" in body["checks"]["mqtt"]
    finally:
        mosquitto_server.start()
    await until(_ready(runtime.url), "readyz to turn 200 with the broker back", timeout=30)


@pytest.mark.services
async def test_readyz_names_an_unreachable_database(tmp_path: Path, start_hub: Any, pg_url: str, postgres_server: Any) -> None:
    runtime = await start_hub(write_config(tmp_path / "config", f"storage:\n  db_url: {pg_url}\n"))
    assert (await probe(runtime.url, "/readyz"))[0] == 200
    postgres_server.stop()
    try:
        body = await until(_not_ready(runtime.url), "readyz to turn 503 with PostgreSQL down")
        assert body["checks"]["database"] != "ok" and body["checks"]["hub"] == "ok"
    finally:
        postgres_server.start()
    await until(_ready(runtime.url), "readyz to turn 200 with PostgreSQL back", timeout=30)


def _not_ready(url: str) -> Any:
    async def check() -> Any:
        status, body = await probe(url, "/readyz")
        return body if status == 503 else None

    return check


def _ready(url: str) -> Any:
    async def check() -> bool:
        return (await probe(url, "/readyz"))[0] == 200

    return check
