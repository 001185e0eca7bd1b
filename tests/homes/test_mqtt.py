"""Each home's devices live under its topic root, with accounts that reach nothing else: a device
of one home cannot publish into another's (real Mosquitto with its dynamic-security plugin,
administered by the hub's homes as docs/mqtt.md "Your own broker" describes)."""

from __future__ import annotations

import asyncio
import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from hub import bootstrap
from tests.homes.conftest import grant_roles, make_roles
from tests.hubs import write_config
from tests.integrations.mqtt.test_provisioning import call, publish_as, until
from tests.integrations.mqtt.test_topic_root import _watch
from tests.ops.test_deploy import _start_shipped_mosquitto

pytestmark = pytest.mark.skipif(shutil.which("mosquitto_ctrl") is None,
                                reason="mosquitto (with mosquitto_ctrl) not installed")


async def test_a_device_of_one_home_cannot_publish_or_listen_into_another(tmp_path: Path, pg_url: str) -> None:
    process, port = _start_shipped_mosquitto(tmp_path, "hub", "hub-password")
    runtime = None
    watchers: list[Any] = []
    try:
        roles = await make_roles(pg_url)
        config = write_config(tmp_path / "config", roles.storage_yaml() + textwrap.dedent(f"""\
            mqtt:
              broker: mqtt://127.0.0.1:{port}
              username: hub
              password: hub-password
              provisioning: {{host: 127.0.0.1, port: {port}}}
            homes:
              - id: flat-a
                topic_root: acme/flat-a/
                members: {{alice: owner}}
              - id: villa
                tenant: zenith
                topic_root: zenith/villa/
                members: {{carol: owner}}
            """))
        runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=await grant_roles(roles, config))
        homes = runtime.homes
        assert homes is not None
        flat, villa = homes.get("flat-a"), homes.get("villa")
        assert flat is not None and villa is not None
        headers = {}
        for name, home in (("alice", flat), ("carol", villa)):
            user = await home.auth.add_user(name, "correct horse battery", "user")  # an owner as `homes:` says
            headers[name] = {"Authorization": f"Bearer {await home.auth.create_long_lived_token(user.id, 't')}"}
        # Each home's owner adds a device in their home: its topics hang under that home's root.
        status, a = await call(runtime, headers["alice"], "POST", "/api/v1/devices",
                               json={"node_id": "node-a", "name": "Kitchen", "kind": "powerhub"})
        assert status == 201, a
        assert a["topic_root"] == "acme/flat-a/" and "acme/flat-a/devices/node-a/#" in a["topics"]["publish"]
        assert a["setup"]["config.json"]["discovery_prefix"] == "acme/flat-a/homeassistant"
        status, v = await call(runtime, headers["carol"], "POST", "/api/v1/devices",
                               json={"node_id": "node-v", "name": "Garage", "kind": "powerhub"})
        assert status == 201 and v["topic_root"] == "zenith/villa/", v
        # The other home's device is nowhere in this one.
        status, listed = await call(runtime, headers["carol"], "GET", "/api/v1/devices")
        assert status == 200 and "node-a" not in json.dumps(listed), listed
        status, _ = await call(runtime, {**headers["carol"], "X-Home-Id": "villa"}, "GET", f"/api/v1/devices/{a['id']}")
        assert status == 404

        password = a["mqtt"]["password"]
        config_payload = json.dumps({"name": "Probe", "unique_id": "probe1", "command_topic": "x/set"})
        # Its own root works: a discovery config it publishes makes an entity in its home.
        await asyncio.to_thread(publish_as, port, "node-a", password, [
            ("acme/flat-a/homeassistant/switch/node-a/probe/config", config_payload, False)])
        await until(lambda: flat.hub.states.get("switch.probe") is not None, "node-a's own discovery config")
        # The other home's topics: the broker drops what it publishes there, and refuses to let it listen.
        await asyncio.to_thread(publish_as, port, "node-a", password, [
            ("zenith/villa/homeassistant/switch/node-a/probe/config", config_payload, False),
            ("zenith/villa/devices/node-v/relay1/set", "ON", False),
        ])
        seen: list[str] = []
        spy, granted = await asyncio.to_thread(_watch, port, "node-a", password, "zenith/villa/#", seen)
        watchers.append(spy)
        await until(lambda: granted, "the SUBACK")
        assert granted == [128]
        # What it sent into the villa's root after its own message did not arrive: flat-a's did.
        await asyncio.to_thread(publish_as, port, "node-a", password, [
            ("acme/flat-a/homeassistant/switch/node-a/probe2/config",
             json.dumps({"name": "Probe two", "unique_id": "probe2", "command_topic": "x/set"}), False)])
        await until(lambda: flat.hub.states.get("switch.probe_two") is not None, "node-a's second config")
        assert villa.hub.states.get("switch.probe") is None
        assert not [s for s in villa.hub.states.all() if s.entity_id.startswith("switch.")]
    finally:
        for spy in watchers:
            spy.loop_stop()
            spy.disconnect()
        if runtime is not None:
            await bootstrap.stop(runtime)
        process.terminate()
        process.wait(5)
