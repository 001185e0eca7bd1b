"""Each hook in hub/hookspecs.py, exercised through a real hub started from a config folder."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from hub import bootstrap
from tests.hubs import write_config

RECORDER = """
from hub import hookimpl
from aiohttp import web
from hub.api.keys import USER_KEY
CALLS = []

@hookimpl
async def setup_integration(hub, config):
    CALLS.append(("setup_integration", config))
    hub.services.register("recorder_probe", "ping", lambda call: {"pong": True},
                          supports_response="only")

@hookimpl
def register_http_routes(hub, app):
    CALLS.append(("register_http_routes", None))
    async def hello(request):
        return web.json_response({"hello": hub.config.name, "user": request[USER_KEY].name})
    app.router.add_get("/api/probe/hello", hello)

@hookimpl
async def hub_started(hub):
    CALLS.append(("hub_started", hub.state.value))

@hookimpl
def hub_stopping(hub):
    CALLS.append(("hub_stopping", hub.state.value))
"""


def calls() -> list[tuple[str, object]]:
    import sys

    return sys.modules["custom_integrations.probe"].CALLS


async def start_probe(tmp_path: Path, start_hub):  # type: ignore[no-untyped-def]
    write_config(
        tmp_path / "config",
        "homeassistant:\n  name: Probe home\nprobe:\n  level: 3\n",
        {"probe": RECORDER},
    )
    return await start_hub(tmp_path / "config")


async def test_hook_setup_integration(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    runtime = await start_probe(tmp_path, start_hub)
    assert ("setup_integration", {"level": 3}) in calls()
    response = await runtime.hub.services.call("recorder_probe", "ping", return_response=True)
    assert response == {"pong": True}


async def test_hook_register_http_routes(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    runtime = await start_probe(tmp_path, start_hub)
    user = await runtime.hub.auth.add_user("ann", "correct horse", "owner")
    token = await runtime.hub.auth.create_long_lived_token(user.id, "test")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{runtime.url}/api/probe/hello") as response:
            assert response.status == 401
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(f"{runtime.url}/api/probe/hello", headers=headers) as response:
            assert response.status == 200
            assert await response.json() == {"hello": "Probe home", "user": "ann"}


async def test_hook_hub_started(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    await start_probe(tmp_path, start_hub)
    names = [name for name, _ in calls()]
    assert names == ["setup_integration", "register_http_routes", "hub_started"]
    assert ("hub_started", "RUNNING") in calls()


async def test_hook_hub_stopping(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    runtime = await start_probe(tmp_path, start_hub)
    await bootstrap.stop(runtime)
    assert calls()[-1] == ("hub_stopping", "STOPPING")


CHECKER = """
from hub import hookimpl
from hub.config import ConfigIssue, get_location

@hookimpl
def check_integration_config(hub, config):
    assert hub.state.value == "NOT_RUNNING"
    file, line = get_location(config["limits"])
    return [ConfigIssue(file, line, "checker.limits", f"limit {value} is over 10")
            for value in config["limits"] if value > 10]
"""


async def test_hook_check_integration_config(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", "checker:\n  limits: [3, 12]\n", {"checker": CHECKER})
    checked = bootstrap.check_config(config)
    issues = await bootstrap.check_integration_configs(config, checked)
    assert [issue.format(config) for issue in issues] == ["configuration.yaml:2: checker.limits: limit 12 is over 10"]
    (config / "configuration.yaml").write_text("checker:\n  limits: [3]\n")
    assert await bootstrap.check_integration_configs(config, bootstrap.check_config(config)) == []


MAKER = """
from hub import hookimpl

@hookimpl
def config_entity_ids(hub, config):
    assert hub.state.value == "NOT_RUNNING"
    return [f"sensor.{name}_power" for name in config["meters"]] + ["sensor.maker_*"]
"""


async def test_hook_config_entity_ids(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", """\
        maker:
          meters: [kitchen]
        script:
          check:
            sequence:
              - action: homeassistant.update_entity
                entity_id: [sensor.kitchen_power, sensor.maker_uptime, sensor.office_power]
        """, {"maker": MAKER})
    checked = bootstrap.check_config(config)
    warnings = await bootstrap.check_entity_references(config, checked, tmp_path / "data")
    # What the integration says it makes, exactly or by pattern, is known; the rest is warned about.
    assert [w.format(config).split(": no entity ")[1].split(":")[0] for w in warnings] == ["sensor.office_power"]
    assert "(asked: maker, script)" in warnings[0].message


REPORTER = """
from hub import hookimpl
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

STATE = {"port": "closed", "frames": 0}

@hookimpl
def check_readiness(hub):
    return {"reporter": "ok" if STATE["port"] == "open" else "serial port closed"}

@hookimpl
def collect_metrics(hub):
    received = CounterMetricFamily("hub_integration_messages_received", "Messages received per integration.",
                                   labels=["integration"])
    received.add_metric(["reporter"], STATE["frames"])
    return [received, GaugeMetricFamily("hub_reporter_port_open", "1 while the port is open.",
                                        value=1 if STATE["port"] == "open" else 0)]
"""


async def start_reporter(tmp_path: Path, start_hub):  # type: ignore[no-untyped-def]
    import sys

    runtime = await start_hub(write_config(tmp_path / "config", "reporter:\n", {"reporter": REPORTER}))
    return runtime, sys.modules["custom_integrations.reporter"].STATE


async def test_hook_check_readiness(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    runtime, state = await start_reporter(tmp_path, start_hub)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{runtime.url}/readyz") as response:
            assert response.status == 503
            assert (await response.json())["checks"] == {"hub": "ok", "database": "ok", "reporter": "serial port closed"}
        state["port"] = "open"
        async with session.get(f"{runtime.url}/readyz") as response:
            assert response.status == 200
            assert (await response.json())["checks"]["reporter"] == "ok"


async def test_hook_collect_metrics(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    runtime, state = await start_reporter(tmp_path, start_hub)
    state.update(port="open", frames=42)
    async with aiohttp.ClientSession() as session, session.get(f"{runtime.url}/metrics") as response:
        text = await response.text()
    assert "hub_reporter_port_open 1.0\n" in text
    # The shared family is listed once, with the integration's sample in it.
    assert text.count("# TYPE hub_integration_messages_received_total counter") == 1
    assert 'hub_integration_messages_received_total{integration="reporter"} 42.0\n' in text


DEMO = """
from hub import hookimpl

CALLS = []

@hookimpl
async def start_demo(hub, nodes, interval):
    CALLS.append(("start", nodes, interval))

    async def stop():
        CALLS.append(("stop",))

    return stop
"""


async def test_hook_start_demo(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    import sys

    import pytest

    from hub.demo import start_demo
    from hub.exceptions import HubError

    runtime = await start_hub(write_config(tmp_path / "config", "simulator:\n", {"simulator": DEMO}))
    stop = await start_demo(runtime.hub, nodes=2, interval=0.5)
    calls = sys.modules["custom_integrations.simulator"].CALLS
    assert calls == [("start", 2, 0.5)]
    await stop()
    assert calls == [("start", 2, 0.5), ("stop",)]

    bare = await start_hub(write_config(tmp_path / "bare", "homeassistant:\n"), tmp_path / "bare-data")
    with pytest.raises(HubError, match="--demo needs the mqtt integration"):
        await start_demo(bare.hub)


# A third-party device source whose domain sorts before `recorder`: in setup order it would come
# first, and a burst of readings at connect would reach states that nobody records yet.
METER = """
from hub import hookimpl

CALLS = []

@hookimpl
def setup_integration(hub, config):
    CALLS.append(("setup_integration", hub.durability.has_sinks))

@hookimpl
def connect_sources(hub):
    CALLS.append(("connect_sources", hub.durability.has_sinks))
    for reading in range(1, 6):  # what a device had buffered, sent the moment it is connected
        hub.states.set("sensor.meter_power", str(reading * 100))

    def disconnect():
        # Sources go first when the hub stops: the recorder still listens for the last reading.
        CALLS.append(("disconnect", hub.durability.has_sinks))
        hub.states.set("sensor.meter_power", "600")

    return disconnect
"""


async def test_hook_connect_sources(tmp_path: Path, start_hub) -> None:  # type: ignore[no-untyped-def]
    import sys

    from hub.recorder.backends.sqlite import SQLiteBackend

    config = write_config(tmp_path / "config", "aaa_meter:\nrecorder:\n", {"aaa_meter": METER})
    runtime = await start_hub(config)
    calls = sys.modules["custom_integrations.aaa_meter"].CALLS
    # Set up before the recorder (alphabetical), connected after it listened.
    assert calls == [("setup_integration", False), ("connect_sources", True)]
    await bootstrap.stop(runtime)
    assert calls[-1] == ("disconnect", True)

    backend = SQLiteBackend(tmp_path / "data" / "history.db")
    await backend.open()
    try:
        found = await backend.read_states(["sensor.meter_power"], 0, 1e10)
    finally:
        await backend.close()
    assert [sample.value for sample in found["sensor.meter_power"]] == [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
