"""`hub run --demo` shows live simulated nodes on the embedded broker."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(importlib.util.find_spec("integrations.mqtt") is None, reason="integrations/mqtt is not installed yet"),
]


async def test_demo_nodes_appear_as_entities(tmp_path: Path, mosquitto_server: Any) -> None:
    from hub import bootstrap
    from hub.cli import build_parser
    from hub.demo import start_demo

    assert build_parser().parse_args(["run", "--demo"]).demo is True
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(textwrap.dedent(f"""\
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: demo_{int(time.time() * 1000)}
        """))
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    try:
        stop_demo = await start_demo(runtime.hub, nodes=2, interval=0.2)
        try:
            deadline = time.monotonic() + 10
            while not all(runtime.hub.states.get(f"sensor.demo_00{n}_power") for n in (1, 2)):
                assert time.monotonic() < deadline, "demo nodes were not discovered"
                await asyncio.sleep(0.05)
            assert (tmp_path / "data" / "demo-nodes" / "demo-001" / "readings.bin").exists()  # their flash
            # The shipped examples (config/) aim at entities the demo makes.
            shipped = Path(__file__).resolve().parents[2] / "config"
            named = set()
            for name in ("automations.yaml", "scripts.yaml", "scenes.yaml"):
                # `entity_id: x` in automations and scripts, `x: state` keys in scenes (not services).
                pattern = r"(?:entity_id:\s*|^\s+)((?:sensor|switch)\.[a-z0-9_]+)"
                named |= set(re.findall(pattern, (shipped / name).read_text(), re.MULTILINE))
            assert named
            while not all(runtime.hub.states.get(e) for e in named):
                assert time.monotonic() < deadline, f"not made by the demo: {[e for e in named if not runtime.hub.states.get(e)]}"
                await asyncio.sleep(0.05)
        finally:
            await stop_demo()
    finally:
        await bootstrap.stop(runtime)


def numeric(hub: Any, entity_id: str) -> bool:
    state = hub.states.get(entity_id)
    try:
        return state is not None and float(state.state) >= 0
    except ValueError:
        return False


def test_meters_keep_their_counters_across_restarts_and_replay_the_time_they_were_off(tmp_path: Path, mosquitto_server: Any) -> None:
    from firmware.sim.fleet import Fleet

    now = time.time()
    fleet = Fleet(mosquitto_server.url, 1, tmp_path, prefix="persist")
    try:
        # First run: a day is replayed, one reading a minute, the counter climbing from 1 kWh.
        day = fleet.catch_up(now)["persist-001"]
        assert len(day) == 1440
        assert day[0]["ts"] == pytest.approx(now - 86400 + 60, abs=1)
        energies = [r["energy"] for r in day]
        assert energies == sorted(energies) and energies[0] >= 1.0 and energies[-1] > energies[0]
        assert {"power", "voltage", "current", "frequency", "power_factor"} <= day[0].keys()
        counter = fleet.nodes[0].board.meter.energy_wh
        assert counter / 1000 == pytest.approx(energies[-1], abs=0.001)
    finally:
        fleet.close()
    # A restart ten minutes later: the meter carries on from its counter, and only those ten minutes are replayed.
    again = Fleet(mosquitto_server.url, 1, tmp_path, prefix="persist")
    try:
        assert again.nodes[0].board.meter.energy_wh == pytest.approx(counter)
        gap = again.catch_up(time.time() + 600)["persist-001"]
        assert 9 <= len(gap) <= 11
        assert gap[0]["energy"] >= round(counter) / 1000
    finally:
        again.close()


async def test_a_demo_run_has_a_day_of_history_from_the_first_minute_and_restarts_where_it_stopped(
    tmp_path: Path, mosquitto_server: Any,
) -> None:
    from hub import bootstrap
    from hub.demo import start_demo
    from hub.recorder import get_recorder
    from integrations.energy import api

    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(textwrap.dedent(f"""\
        homeassistant:
          time_zone: UTC
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: demoday_{int(time.time() * 1000)}
        recorder:
          commit_interval: 0.1
        telemetry_backfill:
        energy:
          tariffs: {{grid: 0.30}}
        """))
    data = tmp_path / "data"

    async def run_demo(uploaded: set[str]) -> tuple[dict[str, Any], float, int]:
        runtime = await bootstrap.start(config, data, port=0)
        uploads: list[dict[str, Any]] = []
        runtime.hub.bus.listen("telemetry_backfilled", lambda event: uploads.append(dict(event.data)))
        try:
            stop_demo = await start_demo(runtime.hub, nodes=2, interval=0.5)
            try:
                deadline = time.monotonic() + 30
                while {u["node_id"] for u in uploads} != uploaded or not numeric(runtime.hub, "sensor.demo_001_energy"):
                    assert time.monotonic() < deadline, f"the demo's history was not uploaded: {uploads}"
                    await asyncio.sleep(0.05)
                recorder = get_recorder(runtime.hub)
                await recorder.flush()
                history = await recorder.backend.read_states(["sensor.demo_001_power"], time.time() - 86400 - 120, time.time())
                report = await api.energy_report(runtime.hub, "week")
                counter = float(runtime.hub.states.get("sensor.demo_001_energy").state)
                return report, counter, len(history["sensor.demo_001_power"])
            finally:
                await stop_demo()
        finally:
            await bootstrap.stop(runtime)

    first, counter, points = await run_demo({"demo-001", "demo-002"})
    # A day of minutes from the first run, and use on the energy report from the first minute.
    assert points >= 1400
    assert first["totals"]["kwh"] > 0.2
    kitchen = next(d for d in first["devices"] if d["entity_ids"] == ["sensor.demo_001_energy"])
    assert sum(1 for v in kitchen["kwh"] if v > 0) >= 1

    # Restarted within a minute: nothing to replay; the meter carries on from where it stopped
    # (not from 1 kWh again), and the day is not billed twice.
    second, counter_again, _ = await run_demo(set())
    assert counter_again >= counter
    assert counter_again - counter < 0.5
    assert second["totals"]["kwh"] == pytest.approx(first["totals"]["kwh"], abs=0.3)
