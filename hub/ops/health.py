"""Readiness: is the metadata database answering, and is each integration's dependency ready?

The hub checks its own database; each enabled integration answers for what it depends on
through the `check_readiness` hook (the mqtt integration for its broker, the recorder for its
history backend).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import text

from hub.plugins import call_hook

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


async def readiness(hub: Hub) -> tuple[bool, dict[str, str]]:
    """Return (ready, {check: "ok" or the reason it is not}): the hub's and every integration's."""
    checks: dict[str, str] = {}
    if not hub.is_running:
        checks["hub"] = f"hub is {hub.state.value.lower()}"
    else:
        checks["hub"] = OK
    checks["database"] = await check_database(hub)
    if hub.plugins is not None:
        for answer in await call_hook(hub.plugins, "check_readiness", hub=hub):
            checks.update(answer or {})
    return all(result == OK for result in checks.values()), checks
