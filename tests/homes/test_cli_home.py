"""`--home` names a home of the tenancy store for every command that acts in one home: a home
added with `hub home add` (no `homes:` entry) gets a device with its broker account on a real
Mosquitto administered through its dynamic-security plugin, a device API key and a user, each
from `hub` run as its own process; a missing, unknown or ambiguous --home is refused with the
homes listed, and a hub of one home refuses --home."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub import cli
from hub.storage.engine import create_engine
from hub.tenancy.store import TenancyStore
from integrations.mqtt.provisioning import DeviceStore
from tests.homes.configs import write_homes_config
from tests.homes.conftest import grant_roles
from tests.hubs import write_config
from tests.integrations.mqtt.lan_broker import connect_code
from tests.integrations.mqtt.test_topic_root import _watch
from tests.ops.test_deploy import _start_shipped_mosquitto
from tests.pg_roles import make_roles

PASSWORD = "correct horse battery\n"


def _hub(where: list[str], *args: str, stdin: str | None = None) -> str:
    """Run `hub ARGS` as its own process, as an operator does; return what it printed."""
    done = subprocess.run([sys.executable, "-m", "hub", *args, *where], input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _run(where: list[str], *args: str) -> tuple[int, str]:
    """Run `hub ARGS` through its entry point in this process (quicker); return the code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = cli.main([*args, *where])
    return code, err.getvalue()


@pytest.mark.services
@pytest.mark.skipif(shutil.which("mosquitto_ctrl") is None, reason="mosquitto (with mosquitto_ctrl) not installed")
async def test_a_home_added_from_the_shell_gets_a_device_a_key_and_a_user(tmp_path: Path, pg_url: str) -> None:
    process, port = _start_shipped_mosquitto(tmp_path, "hub", "hub-password")
    clients = []
    try:
        roles = await make_roles(pg_url)
        made = write_homes_config(
            tmp_path / "config", roles.storage_yaml(),
            {"broker": f"mqtt://127.0.0.1:{port}", "username": "hub", "password": "hub-password",
             "provisioning": {"host": "127.0.0.1", "port": port}},
            [{"id": "flat-a", "tenant": "acme", "name": "Flat A"}], sections="http_ingest:\n")
        await grant_roles(roles, made.folder)
        where = ["-c", str(made.folder), "--data", str(tmp_path / "data")]
        owner = create_engine(roles.owner_url)
        try:
            store = TenancyStore(owner)
            acme = await store.add_tenant("acme", None)
            await store.add_tenant("zenith", None)
            cabin = await store.add_home("acme", "Cabin", topic_root=made.root("cabin"))
            other = await store.add_home("zenith", "Flat C", topic_root=made.root("zenith-c"))
        finally:
            await owner.dispose()

        printed = await asyncio.to_thread(_hub, where, "home", "add", "Flat C", "--tenant", "acme",
                                          "--topic-root", made.root("flat-c"))
        found = re.search(r"id (\S+?);", printed)
        assert found is not None, printed
        home_id = found.group(1)

        # A device: its account on the broker now, named and held to the home's root.
        answer = json.loads(await asyncio.to_thread(_hub, where, "device", "add", "kitchen", "--home", home_id,
                                                    "--json", "--host", "127.0.0.1"))
        mqtt = answer["mqtt"]
        assert mqtt["username"] == mqtt["client_id"] == f"{acme.id}.{home_id}.kitchen"
        assert answer["topic_root"] == made.root("flat-c")
        assert all(topic.startswith(made.root("flat-c")) for topic in answer["topics"]["publish"])
        assert await asyncio.to_thread(connect_code, port, mqtt["username"], mqtt["password"], mqtt["client_id"]) == 0
        for topic_filter, expected in ((answer["topics"]["subscribe"][0], 1), (f"{made.root('zenith-c')}#", 128)):
            spy, granted = await asyncio.to_thread(_watch, port, mqtt["username"], mqtt["password"], topic_filter, [])
            clients.append(spy)
            for _ in range(100):
                if granted:
                    break
                await asyncio.sleep(0.05)
            assert granted == [expected], topic_filter
        # Kept with the home's data, where its core reads its devices, not the process's.
        assert DeviceStore(tmp_path / "data" / "homes" / home_id).by_device_id("kitchen") is not None
        assert DeviceStore(tmp_path / "data").by_device_id("kitchen") is None

        # A device API key in that home (by its id: two tenants have a home of that name).
        key = (await asyncio.to_thread(_hub, where, "apikey", "create", "meter", "--home", home_id)).strip()
        assert key
        code, err = await asyncio.to_thread(_run, where, "apikey", "list", "--home", home_id)
        assert code == 0, err
        # A user, by the home's name and its tenant; then a role in it for a user the tenant has.
        printed = await asyncio.to_thread(_hub, where, "user", "add", "carol", "--home", "Flat C", "--tenant", "acme",
                                          "--role", "owner", "--password-stdin", stdin=PASSWORD)
        assert f"Added user carol (owner in home Flat C ({home_id}) of tenant acme)" in printed
        code, err = await asyncio.to_thread(_run, where, "user", "add", "carol", "--home", "Cabin", "--role", "read-only")
        assert code == 0, err

        # Missing, unknown, ambiguous: refused, with every home of the store to choose from.
        homes = f"{cabin.id} (Cabin, acme), {home_id} (Flat C, acme), {other.id} (Flat C, zenith)"
        code, err = await asyncio.to_thread(_run, where, "device", "add", "pantry")
        assert code == 1 and f"error: this hub serves many homes: name one with --home (homes: {homes})" in err, err
        code, err = await asyncio.to_thread(_run, where, "apikey", "create", "meter", "--home", "attic")
        assert code == 1 and f"error: --home attic: no such home (homes: {homes})" in err, err
        code, err = await asyncio.to_thread(_run, where, "user", "add", "dan", "--home", "Flat C", "--role", "user")
        assert code == 1 and ("error: --home Flat C: more than one home has that name; give its id "
                              f"(homes: {homes})") in err, err
        code, err = await asyncio.to_thread(_run, where, "user", "add", "dan", "--home", "Flat A", "--tenant", "zenith")
        assert code == 1 and f"error: --home Flat A: no such home (tenant zenith's homes: {other.id} (Flat C, zenith))" in err
        code, err = await asyncio.to_thread(_run, where, "user", "add", "dan", "--tenant", "zenith")
        assert code == 1 and f"name one with --home (tenant zenith's homes: {other.id} (Flat C, zenith))" in err, err

        owner = create_engine(roles.owner_url)
        try:
            store = TenancyStore(owner)
            carol = await store.user_id(acme.id, "carol")
            assert carol is not None
            assert sorted((scope.home_id, role) for scope, role in await store.homes_of(carol)) == sorted(
                [(home_id, "owner"), (cabin.id, "read-only")])
        finally:
            await owner.dispose()
    finally:
        for client in clients:
            client.loop_stop()
            client.disconnect()
        process.terminate()
        process.wait(5)


@pytest.mark.parametrize("command", [["device", "add", "kitchen"], ["apikey", "list"],
                                     ["user", "add", "ann", "--password-stdin"], ["user", "list"],
                                     ["user", "passwd", "ann", "--password-stdin"], ["user", "remove", "ann"],
                                     ["user", "unlock", "ann"], ["token", "create", "ann", "--name", "laptop"],
                                     ["token", "list", "ann"], ["token", "revoke", "01J"],
                                     ["mqtt", "export-acl", "--out", "acl"]])
def test_a_hub_of_one_home_refuses_home(tmp_path: Path, command: list[str]) -> None:
    config = write_config(tmp_path / "config", "http_ingest:\n")
    code, err = _run(["-c", str(config), "--data", str(tmp_path / "data")], *command, "--home", "flat-a")
    assert code == 1
    assert "error: --home flat-a: this hub serves one home (no `homes:` section); leave it out" in err, err
