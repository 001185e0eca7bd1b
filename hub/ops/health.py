"""Readiness: is the metadata database answering, the broker connected, the history backend writing?"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import text

from hub.ops import sources

if TYPE_CHECKING:
    from hub.core.hub import Hub

CHECK_TIMEOUT = 2.0
OK = "ok"


async def check_database(hub: Hub) -> str:
    """Return "ok", or why the metadata database does not answer `SELECT 1`."""
    if hub.db is None:
        return "no metadata database configured"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            async with hub.db() as session:
                await session.execute(text("SELECT 1"))
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:.0f} s"
    except Exception as err:  # noqa: BLE001 - any driver error means "not ready", with its text
        return f"{type(err).__name__}: {err}"
    return OK


def check_mqtt(hub: Hub) -> str | None:
    """Return "ok", why the broker is not connected, or None when MQTT is not enabled."""
    if "mqtt" not in hub.config.components:
        return None
    client = sources.mqtt_client_of(hub)
    if client is None:
        return "the MQTT integration is not running"
    if not client.connected:
        settings = client.settings
        return f"not connected to the MQTT broker at {settings.host}:{settings.port}"
    return OK


def check_recorder(hub: Hub) -> str | None:
    """Return "ok", the history backend's last error, or None when the recorder is not enabled."""
    if "recorder" not in hub.config.components:
        return None
    recorder = sources.recorder_of(hub)
    if recorder is None:
        return "the recorder is not running"
    if recorder.last_error:
        return f"history backend {recorder.backend.name} failing: {recorder.last_error}"
    return OK


async def readiness(hub: Hub) -> tuple[bool, dict[str, str]]:
    """Return (ready, {check: "ok" or the reason it is not}) for every enabled dependency."""
    checks: dict[str, str] = {}
    if not hub.is_running:
        checks["hub"] = f"hub is {hub.state.value.lower()}"
    else:
        checks["hub"] = OK
    checks["database"] = await check_database(hub)
    for name, result in (("mqtt", check_mqtt(hub)), ("recorder", check_recorder(hub))):
        if result is not None:
            checks[name] = result
    return all(result == OK for result in checks.values()), checks
