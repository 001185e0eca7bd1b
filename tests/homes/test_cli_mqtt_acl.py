"""`hub mqtt export-acl` in a hub of many homes: the broker is every home's, so the files hold every
home's devices, each held to its home's topic root (`--home` writes one home's); a plain Mosquitto
run with them lets each home's `kitchen` in with its own account and keeps it out of the other's."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from integrations.mqtt.broker import find_mosquitto
from tests.homes.configs import write_homes_config
from tests.homes.conftest import grant_roles
from tests.homes.test_cli_users import _ok
from tests.integrations.mqtt.lan_broker import connect_code, publish_as
from tests.pg_roles import make_roles
from tests.servers import free_port

pytestmark = pytest.mark.services


def _mosquitto(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A plain Mosquitto with the exported passwd and acl files, on a free loopback port."""
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {folder}/passwd\n"
                    f"acl_file {folder}/acl\n" + ("user root\n" if os.geteuid() == 0 else ""))
    broker = subprocess.Popen([find_mosquitto(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return broker, port


def _command_topic(answer: dict[str, Any]) -> str:
    pattern = next(t for t in answer["topics"]["subscribe"] if t.endswith("/+/set"))
    return pattern.replace("/+/", "/relay1/")


def _reaches(port: int, device: dict[str, Any], sender: tuple[str, str], topic: str) -> bool:
    """Whether what `sender` publishes on `topic` reaches `device` subscribed to it."""
    seen: list[str] = []
    watcher = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{device['username']}-w")
    watcher.username_pw_set(device["username"], device["password"])
    watcher.on_message = lambda _c, _u, m: seen.append(m.topic)
    watcher.connect("127.0.0.1", port)
    watcher.subscribe(topic, qos=1)
    watcher.loop_start()
    try:
        time.sleep(0.3)
        publish_as(port, *sender, [(topic, "ON", False)])
        for _ in range(20):
            if seen:
                break
            time.sleep(0.05)
        return seen == [topic]
    finally:
        watcher.loop_stop()
        watcher.disconnect()


async def test_export_acl_writes_every_homes_devices_each_held_to_its_root(tmp_path: Path, pg_url: str) -> None:
    from hub.storage.engine import create_engine
    from hub.tenancy.store import TenancyStore

    roles = await make_roles(pg_url)
    made = write_homes_config(tmp_path / "config", roles.storage_yaml(), "mqtt://127.0.0.1:1",
                              [{"id": "flat-a", "tenant": "acme"}])
    await grant_roles(roles, made.folder)
    data = tmp_path / "data"
    where = ["-c", str(made.folder), "--data", str(data)]
    owner = create_engine(roles.owner_url)
    try:
        store = TenancyStore(owner)
        acme = await store.add_tenant("acme", None)
        await store.add_tenant("zenith", None)
        flat = await store.add_home("acme", "Flat A", topic_root=made.root("flat"))
        villa = await store.add_home("zenith", "Villa", topic_root=made.root("villa"))
    finally:
        await owner.dispose()
    answers = {}
    for home in (flat, villa):
        answers[home.id] = json.loads(await _ok(where, "device", "add", "kitchen", "--home", home.id, "--json",
                                                "--host", "127.0.0.1"))
    kitchen_a, kitchen_v = answers[flat.id]["mqtt"], answers[villa.id]["mqtt"]
    assert kitchen_a["username"] != kitchen_v["username"]

    printed = await _ok(where, "mqtt", "export-acl", "--out", str(tmp_path / "all"))
    assert f"for 2 devices of 2 home(s): {flat.id}, {villa.id}" in printed, printed
    acl = (tmp_path / "all" / "acl").read_text()
    assert f"# home {flat.id} (Flat A, tenant {acme.id}): topic root {made.root('flat')}" in acl
    one = await _ok(where, "mqtt", "export-acl", "--out", str(tmp_path / "one"), "--home", "Villa", "--format", "dynsec")
    assert f"for 1 devices of 1 home(s): {villa.id}" in one
    clients = {c["username"] for c in json.loads((tmp_path / "one" / "dynamic-security.json").read_text())["clients"]}
    assert clients == {"powerhub-hub", kitchen_v["username"]}

    broker, port = _mosquitto(tmp_path / "all")
    try:
        for account in (kitchen_a, kitchen_v):
            assert await asyncio.to_thread(connect_code, port, account["username"], account["password"],
                                           account["client_id"]) == 0
        assert await asyncio.to_thread(connect_code, port, kitchen_a["username"], "wrong") != 0
        hub_password = json.loads((data / "secrets" / "mqtt_hub.json").read_text())["password"]
        villa_command = _command_topic(answers[villa.id])
        assert villa_command.startswith(made.root("villa"))
        # Flat A's kitchen cannot command the villa's; the hub can.
        assert not await asyncio.to_thread(_reaches, port, kitchen_v, (kitchen_a["username"], kitchen_a["password"]),
                                           villa_command)
        assert await asyncio.to_thread(_reaches, port, kitchen_v, ("powerhub-hub", hub_password), villa_command)
    finally:
        broker.terminate()
        broker.wait(5)
