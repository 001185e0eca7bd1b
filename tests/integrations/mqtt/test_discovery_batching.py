"""Configs that arrive in bursts (a broker's pace at start) share registry transactions."""

from __future__ import annotations

import asyncio
import json

import pytest

import hub.registry.writer as writer_module
from integrations.mqtt import runtime_of

pytestmark = [pytest.mark.services, pytest.mark.timeout(120)]

BURSTS = 30
PER_BURST = 10


async def test_configs_in_bursts_share_a_few_registry_transactions(start_mqtt_hub, device, prefix, monkeypatch) -> None:
    runtime = await start_mqtt_hub()
    discovery = runtime_of(runtime.hub).discovery
    transactions: list[int] = []
    execute = writer_module._execute

    async def counting(session_factory, writes):
        transactions.append(len(writes))
        await execute(session_factory, writes)

    monkeypatch.setattr(writer_module, "_execute", counting)
    for burst in range(BURSTS):
        for k in range(PER_BURST):
            n = burst * PER_BURST + k
            config = {"name": f"Burst {n}", "uniq_id": f"{prefix}_b{n}", "stat_t": f"{prefix}/b{n}",
                      "dev": {"ids": [f"{prefix}_dev{burst}"], "name": f"Dev {burst}"}}
            await device.publish(f"{prefix}/sensor/b{n}/config", json.dumps(config), qos=0)
        await asyncio.sleep(0.01)  # the next burst comes a little later, as from a broker's queue
    async with asyncio.timeout(60):
        while sum(1 for e in discovery.entities.values() if (e.unique_id or "").startswith(f"{prefix}_b")) < BURSTS * PER_BURST:
            await asyncio.sleep(0.05)
        await discovery.wait_idle()

    # Every entity and device is in the registries, in a few transactions rather than one per burst.
    registry = runtime.hub.entity_registry
    assert all(registry.get_entity_id("sensor", "mqtt", f"{prefix}_b{n}") for n in range(BURSTS * PER_BURST))
    assert sum(transactions) >= BURSTS * PER_BURST
    assert len(transactions) <= BURSTS // 5, f"{len(transactions)} transactions: {transactions}"
