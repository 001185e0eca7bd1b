"""The register_websocket_commands hook, through a real hub started from a config folder."""

from __future__ import annotations

from pathlib import Path

from hub.api.ws_commands import collect_commands
from tests.plugins.conftest import start_hub, write_config  # noqa: F401 - the fixture

PROBE = """
import voluptuous as vol
from hub import hookimpl

@hookimpl
def register_websocket_commands(hub, register):
    async def count(hub, connection, msg):
        connection.send_result(msg["id"], {"count": len(hub.states.all(msg["domain"]))})
    register("probe/count", count, {vol.Required("domain"): str})
    register("probe/secret", count, None, admin_only=True)
"""


async def test_hook_register_websocket_commands(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    write_config(tmp_path / "config", "wsprobe:\n", {"wsprobe": PROBE})
    runtime = await start_hub(tmp_path / "config")
    registry = await collect_commands(runtime.hub)
    command = registry.get("probe/count")
    assert command is not None and not command.admin_only
    assert command.schema({"id": 1, "type": "probe/count", "domain": "switch"})["domain"] == "switch"
    secret = registry.get("probe/secret")
    assert secret is not None and secret.admin_only and secret.schema is None
