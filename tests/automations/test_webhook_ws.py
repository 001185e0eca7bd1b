"""Webhook trigger over HTTP, trace/list and trace/get over the WebSocket command registry,
and trace retention per outcome.

Sources: https://www.home-assistant.io/docs/automation/trigger/#webhook-trigger (methods,
local_only, trigger.json/data/query; unknown ids answer 200) and Home Assistant's trace
WebSocket commands (trace/list, trace/get).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from automations.trace import Trace, TraceStore
from hub.api.ws_commands import collect_commands
from hub.core.context import Context
from hub.core.hub import Hub
from hub.core.services import ServiceCall
from tests.automations.conftest import wait_for
from tests.hubs import write_config

CONFIG = """
automation:
  - id: hook
    alias: Hook
    triggers:
      - trigger: webhook
        webhook_id: heater-off
        allowed_methods: [POST, GET]
    actions:
      - action: test.record
        data:
          json: "{{ trigger.json.power if trigger.json else none }}"
          query: "{{ trigger.query.room }}"
"""


class Connection:
    def __init__(self) -> None:
        self.results: list[Any] = []
        self.errors: list[Any] = []

    def send_result(self, msg_id: int, result: Any = None) -> None:
        self.results.append(result)

    def send_error(self, msg_id: int, code: str, message: str) -> None:
        self.errors.append((code, message))


async def test_webhook_and_trace_commands(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    runtime = await start_hub(write_config(tmp_path / "config", CONFIG))
    hub = runtime.hub
    seen: list[ServiceCall] = []

    async def record(call: ServiceCall) -> None:
        seen.append(call)

    hub.services.register("test", "record", record)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{runtime.url}/api/webhook/heater-off?room=hall", json={"power": 2500}) as response:
            assert response.status == 200
        async with session.put(f"{runtime.url}/api/webhook/heater-off") as response:
            assert response.status == 405
        async with session.post(f"{runtime.url}/api/webhook/unknown") as response:
            assert response.status == 200
    await wait_for(lambda: len(seen) == 1)
    assert seen[0].data == {"json": 2500, "query": "hall"}

    registry = await collect_commands(hub)
    connection = Connection()
    await wait_for(lambda: any(t["state"] == "stopped" for t in _list(hub)))
    await registry.get("trace/list").handler(hub, connection, {"id": 1, "type": "trace/list", "domain": "automation"})
    summary = connection.results[-1][0]
    assert summary["item_id"] == "hook" and summary["script_execution"] == "finished"
    await registry.get("trace/get").handler(hub, connection, {"id": 2, "type": "trace/get", "domain": "automation", "item_id": "hook", "run_id": summary["run_id"]})
    assert connection.results[-1]["trace"]["action/0"][0]["result"]["params"]["service"] == "record"
    await registry.get("trace/get").handler(hub, connection, {"id": 3, "type": "trace/get", "domain": "automation", "item_id": "hook", "run_id": "nope"})
    assert connection.errors[-1][0] == "not_found"


def _list(hub: Hub) -> list[dict[str, Any]]:
    from automations.trace import get_trace_store  # noqa: PLC0415

    return get_trace_store(hub).list("automation", "hook")


def test_retention_keeps_errors_among_noisy_successes(hub: Hub) -> None:
    store = TraceStore(hub, None)
    store.set_limit("automation.noisy", 2)
    for n in range(10):
        trace = Trace("automation", "noisy", {}, Context(), 1_700_000_000 + n)
        store.add(trace)
        trace.finished("error" if n in (1, 2, 3) else "finished", f"boom {n}" if n in (1, 2, 3) else None)
        store.finished(trace)
    kept = store.list("automation", "noisy")
    assert [t.get("error") for t in kept] == ["boom 2", "boom 3", None, None]
