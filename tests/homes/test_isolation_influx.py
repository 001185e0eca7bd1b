"""The isolation walks again, with history in a real InfluxDB 1.x instead of PostgreSQL.

Every home writes its points into one InfluxDB database, each point tagged with its tenant and
home; nothing but those tags keeps one home's history from another's. The walks, the attackers
and flat-a's secrets are tests/homes/test_isolation.py's; metadata stays in PostgreSQL under
row-level security. The first test shows that flat-a's reading is in InfluxDB and readable by its
own user, so the walks' history routes and commands had something to leak.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from hub.recorder import RECORDER
from tests.homes.conftest import HomesRun
from tests.homes.test_isolation import EXTRA_CONFIG as PG_CONFIG

# The fixtures and the walks, collected again in this module (whose EXTRA_CONFIG the hub reads).
from tests.homes.test_isolation import (  # noqa: F401
    call,
    filtering,
    secrets,
    test_another_homes_api_key_writes_nothing_here,
    test_every_route_refuses_or_shows_nothing_of_another_home,
    test_every_websocket_command_shows_nothing_of_another_home,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXTRA_CONFIG = PG_CONFIG.replace(
    "  backend: postgresql\n  db_url: {pg_url}\n", "  backend: influxdb\n  url: {influx_url}\n  database: homes_history\n"
)
assert "influxdb" in EXTRA_CONFIG


async def own_history(run: HomesRun, entity_id: str) -> str:
    """flat-a's last hour of entity_id, as its own user reads it."""
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # the period is a day from its start
    status, text = await call(run, "alice", "GET", f"/api/history/period/{since}?filter_entity_id={entity_id}", "flat-a")
    assert status == 200, text
    return text


@pytest_asyncio.fixture(scope="module", loop_scope="module", autouse=True)
async def recorded(homes_runtime: HomesRun, secrets: dict[str, str]) -> None:  # noqa: F811
    """Before any walk: flat-a's reading is in InfluxDB, so the walks' history routes had it to leak."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while "4242" not in await own_history(homes_runtime, secrets["entity_id"]):
        assert loop.time() < deadline, "flat-a's reading never reached its history"
        await asyncio.sleep(0.05)


async def test_the_secret_reading_is_in_influxdb_and_its_own_home_reads_it(
        homes_runtime: HomesRun, secrets: dict[str, str]) -> None:  # noqa: F811
    a = homes_runtime.homes.get("flat-a")
    assert a is not None
    assert type(a.hub.runtime[RECORDER].backend).__name__ == "InfluxV1Backend"
    assert "4242" in await own_history(homes_runtime, secrets["entity_id"])
