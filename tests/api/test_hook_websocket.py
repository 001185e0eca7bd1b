"""The register_websocket_commands hook, through a real hub and a real WebSocket client."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from hub.core.bus import callback
from tests.hubs import write_config

from .conftest import WsClient

PROBE = """
import voluptuous as vol
from hub import hookimpl

@hookimpl
def register_websocket_commands(hub, register):
    async def count(hub, connection, msg):
        connection.send_result(msg["id"], {"count": len(hub.states.all(msg["domain"]))})

    async def ticks(hub, connection, msg):
        def stop():
            hub.bus.fire("probe_stopped")
        connection.subscriptions[msg["id"]] = stop
        connection.send_result(msg["id"])
        connection.send_event(msg["id"], {"tick": 1})

    async def broken(hub, connection, msg):
        raise RuntimeError("bug")

    register("probe/count", count, {vol.Required("domain"): str})
    register("probe/ticks", ticks, None)
    register("probe/secret", count, {vol.Required("domain"): str}, admin_only=True)
    register("probe/broken", broken, {})
"""


async def test_hook_register_websocket_commands(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    write_config(tmp_path / "config", "wsprobe:\n", {"wsprobe": PROBE})
    runtime = await start_hub(tmp_path / "config")
    hub = runtime.hub
    hub.states.set("switch.a", "on")
    hub.states.set("switch.b", "off")
    reader = await hub.auth.add_user("reader", "pw", "read-only")
    token = await hub.auth.create_long_lived_token(reader.id, "t")
    stopped = []
    hub.bus.listen("probe_stopped", callback(stopped.append))
    async with aiohttp.ClientSession() as session:
        client = await WsClient.open(session, runtime.url)
        await client.authenticate(token)
        assert await client.command("probe/count", domain="switch") == {"count": 2}
        assert (await client.error("probe/count"))["code"] == "invalid_format"
        assert (await client.error("probe/secret", domain="switch"))["code"] == "unauthorized"
        assert await client.error("probe/broken") == {"code": "unknown_error", "message": "Unknown error"}
        sub = await client.send_command("probe/ticks")
        await client.result(sub)
        assert await client.event(sub) == {"tick": 1}
        assert await client.command("unsubscribe_events", subscription=sub) is None
        assert len(stopped) == 1
