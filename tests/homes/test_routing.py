"""Requests that carry no home reach their own: a webhook by its id, a device's telemetry by its key
(hub/homes/owners.py). Two homes of two tenants; the first listed (flat-a) is where anything that
names no home went before, so every case aims at the second (villa) or at both."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import aiohttp

from hub import bootstrap
from hub.core.hub import Hub
from tests.homes.conftest import grant_roles, make_roles
from tests.hubs import write_config

AUTOMATIONS = """\
- id: hook_{home}_{name}
  alias: Webhook {name}
  triggers:
    - trigger: webhook
      webhook_id: {hook}
      local_only: false
  actions:
    - event: webhook_ran
      event_data: {{hook: "{hook}"}}
"""


def _config(tmp_path: Path, storage: str, broker: str) -> Path:
    config = write_config(tmp_path / "config", storage + textwrap.dedent(f"""\
        mqtt:
          broker: {broker}
        automation:
        http_ingest:
        homes:
          - id: flat-a
            tenant: acme
            members: {{alice: owner}}
          - id: villa
            tenant: zenith
            members: {{carol: owner}}
        """))
    # flat-a: hook "alpha" and "shared"; villa: "villa-hook" and "shared".
    for home, hooks in (("flat-a", ("alpha", "shared")), ("villa", ("villa-hook", "shared"))):
        folder = config / "homes" / home
        folder.mkdir(parents=True)
        (folder / "configuration.yaml").write_text("automation: !include automations.yaml\n")
        (folder / "automations.yaml").write_text("".join(
            AUTOMATIONS.format(home=home.replace("-", "_"), name=hook.replace("-", "_"), hook=hook) for hook in hooks))
    return config


def _ran(hub: Hub) -> list[str]:
    seen: list[str] = []
    hub.bus.listen("webhook_ran", lambda event: seen.append(event.data["hook"]))
    return seen


async def _post(url: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(url + path, **kwargs) as response:
        return response.status, await response.text()


async def _until(condition: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_webhooks_and_device_keys_reach_the_home_that_owns_them(tmp_path: Path, pg_url: str,
                                                                      mosquitto_server: Any) -> None:
    roles = await make_roles(pg_url)  # served as an application role, as a many-homes hub must be
    config = _config(tmp_path, roles.storage_yaml(), mosquitto_server.url)
    checked = await grant_roles(roles, config)
    runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=checked)
    try:
        homes = runtime.homes
        assert homes is not None
        flat, villa = homes.get("flat-a"), homes.get("villa")
        assert flat is not None and villa is not None
        ran = {"flat-a": _ran(flat.hub), "villa": _ran(villa.hub)}
        url = runtime.url

        # A webhook that one home holds reaches that home, though the request names none.
        assert (await _post(url, "/api/webhook/villa-hook", json={"x": 1}))[0] == 200
        assert (await _post(url, "/api/webhook/alpha", json={"x": 1}))[0] == 200
        await _until(lambda: ran == {"flat-a": ["alpha"], "villa": ["villa-hook"]}, "each home's own webhook")
        # An id both homes use reaches neither unless the request names its home; an unknown id and
        # another home's id named in the wrong home answer as an unknown id does: 200, nothing runs.
        for path in ("/api/webhook/shared", "/api/webhook/nobody", "/api/webhook/villa-hook?home_id=flat-a",
                     "/api/webhook/alpha?home_id=villa"):
            status, body = await _post(url, path, json={"x": 1})
            assert (status, body) == (200, ""), path
        # A home that does not exist answers 404 here as on every route (docs/homes.md, "Requests").
        assert (await _post(url, "/api/webhook/shared?home_id=nowhere"))[0] == 404
        # Named in its home, the shared id runs there only; the runs after it show what ran before.
        assert (await _post(url, "/api/webhook/shared", params={"home_id": "villa"}))[0] == 200
        assert (await _post(url, "/api/webhook/alpha"))[0] == 200
        await _until(lambda: len(ran["villa"]) == 2 and len(ran["flat-a"]) == 2, "the named shared id")
        assert ran == {"flat-a": ["alpha", "alpha"], "villa": ["villa-hook", "shared"]}

        # A device key made in villa writes villa's states; flat-a never sees them.
        auth = villa.auth
        auth._rounds = 4
        carol = await auth.add_user("carol", "correct horse battery", "owner")
        token = await auth.create_long_lived_token(carol.id, "t")
        async with aiohttp.ClientSession() as session, session.post(
                url + "/api/v1/apikeys", json={"name": "Garden"},
                headers={"Authorization": f"Bearer {token}", "X-Home-Id": "villa"}) as response:
            assert response.status == 201, await response.text()
            key = (await response.json())["key"]
        reading = {"measurements": {"temperature": 21.5}}
        for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
            status, body = await _post(url, "/api/v1/telemetry", json=reading, headers=headers)
            assert status == 201, body
        assert villa.hub.states.get("sensor.garden_temperature") is not None
        assert flat.hub.states.get("sensor.garden_temperature") is None
        # Named in the wrong home, or wrong, the key is refused as a wrong key is.
        for path, headers in (("/api/v1/telemetry?home_id=flat-a", {"X-API-Key": key}),
                              ("/api/v1/telemetry", {"X-API-Key": key[:-2] + "xx"})):
            status, body = await _post(url, path, json={"measurements": {"temperature": 99}}, headers=headers)
            assert status == 401, (path, body)
        assert flat.hub.states.get("sensor.garden_temperature") is None
        assert villa.hub.states.get("sensor.garden_temperature").state == "21.5"  # type: ignore[union-attr]
    finally:
        await bootstrap.stop(runtime)

    # After a restart the homes fill the table again: villa's key and webhook still reach villa.
    runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=checked)
    try:
        assert runtime.homes is not None
        villa = runtime.homes.get("villa")
        assert villa is not None
        ran = {"villa": _ran(villa.hub)}
        status, body = await _post(runtime.url, "/api/v1/telemetry", json={"measurements": {"temperature": 22}},
                                   headers={"X-API-Key": key})
        assert status == 201, body
        assert villa.hub.states.get("sensor.garden_temperature").state == "22"  # type: ignore[union-attr]
        assert (await _post(runtime.url, "/api/webhook/villa-hook"))[0] == 200
        await _until(lambda: ran == {"villa": ["villa-hook"]}, "villa's webhook after the restart")
    finally:
        await bootstrap.stop(runtime)
