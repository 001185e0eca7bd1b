"""The `plans:` section of a many-homes hub is what its homes run with: a tenant on an overridden
built-in plan gets the overridden retention and limits (real PostgreSQL and Mosquitto), and a bad
override stops the check with the file, line and field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import asyncpg
import pytest

from hub import bootstrap, cli
from hub.exceptions import ConfigError
from hub.recorder import RECORDER
from hub.storage.engine import create_engine
from hub.tenancy import limits
from hub.tenancy.plans import DAY, PLANS, plan_of
from hub.tenancy.store import TenancyStore
from tests.homes.configs import write_homes_config
from tests.homes.conftest import grant_roles
from tests.hubs import write_config
from tests.pg_roles import make_roles
from tests.tenancy.test_plans_limits import until

PLANS_YAML = """\
plans:
  free:
    retention: {raw: 14d}
    limits: {devices: 1, messages_per_second: 2}
"""


def _sensor(root: str, device: str) -> str:
    return json.dumps({"name": "p", "unique_id": f"{device}_p", "state_topic": f"{root}{device}/p",
                       "device": {"identifiers": [device], "name": device}})


@pytest.mark.services
async def test_a_plan_override_is_what_the_homes_of_a_tenant_on_that_plan_run_with(
        tmp_path: Path, pg_url: str, mosquitto_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    roles = await make_roles(pg_url)
    written = write_homes_config(tmp_path / "config", roles.storage_yaml(), mosquitto_server.url,
                                 [{"id": "flat-a", "tenant": "acme"}, {"id": "villa", "tenant": "zenith"}],
                                 sections=PLANS_YAML + f"recorder:\n  backend: postgresql\n  db_url: {roles.app_url}\n")
    config = written.folder
    checked = await grant_roles(roles, config)
    owner = create_engine(roles.owner_url)
    try:
        store = TenancyStore(owner)
        await store.add_tenant("acme", "free")  # `homes:` finds it by name and keeps its plan
        await store.add_tenant("zenith", "starter")
    finally:
        await owner.dispose()
    runtime = await bootstrap.start(config, tmp_path / "data", port=0, checked=checked)
    try:
        assert runtime.homes is not None
        flat, villa = runtime.homes.get("flat-a"), runtime.homes.get("villa")
        assert flat is not None and villa is not None
        plan = plan_of(flat.hub)
        assert plan is not None and plan.name == "free"
        assert plan.retention.raw == 14 * DAY and plan.retention.hour == PLANS["free"].retention.hour
        assert plan.limits.devices == 1 and plan.limits.entities == PLANS["free"].limits.entities
        assert plan_of(villa.hub) == PLANS["starter"]  # a plan the section leaves alone stays built-in
        # The recorder keeps the home's raw points 14 days (the override), its hours 30 (built-in free's),
        # and expires the partitions of the plan with that retention.
        recorder = flat.hub.runtime[RECORDER]
        assert recorder.plan.default["raw"] == 14 * DAY and recorder.plan.default["hour"] == 30 * DAY
        assert villa.hub.runtime[RECORDER].plan.default["raw"] == PLANS["starter"].retention.raw
        backend = recorder.backend
        assert backend.retentions["free"]["raw"] == 14 * DAY
        # The history is served as the application role (storage's db_url); its tables and the
        # partitions made ahead are the owner's (storage's migrate_url), made through its connection.
        assert backend.dsn.startswith(f"postgresql://{roles.app_role}@") and backend.owner_dsn is not None
        admin = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
        try:
            made = {row[0]: row[1] for row in await admin.fetch(
                "SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE relname LIKE 'history_raw_p_%'")}
        finally:
            await admin.close()
        today = f"history_raw_p_free_{datetime.now(UTC):%Y%m%d}"
        assert today in made and "history_raw_p_starter" in made
        assert set(made.values()) == {roles.owner_role}
        # The override's rate holds the home's readings: 2 a second, not the built-in plan's 20.
        root = written.root("flat-a")
        async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port) as device:
            await device.publish(f"{root}homeassistant/sensor/d1/p/config", _sensor(root, "d1"), qos=1)
            await until(lambda: flat.hub.states.get("sensor.d1_p") is not None, "the discovered sensor")
            for value in range(10):
                await device.publish(f"{root}d1/p", str(value), qos=0)
            await device.publish(f"{root}d1/p", "done", qos=1)
            # A second device is past the overridden limit of 1 device: not created.
            await device.publish(f"{root}homeassistant/sensor/d2/p/config", _sensor(root, "d2"), qos=1)
        await until(lambda: "The plan 'free' allows 1 devices per home" in caplog.text, "the device refused")
        rate = limits.message_rate(flat.hub)
        assert rate is not None and rate.allowed == 2
        await until(lambda: rate.dropped >= 11 - 2 * 3, "the readings over the rate dropped")
        assert flat.hub.device_registry is not None
        assert flat.hub.device_registry.get_by_identifier("mqtt", "d2") is None
    finally:
        await bootstrap.stop(runtime)


def test_a_bad_plan_override_names_the_file_line_and_field(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", """\
storage:
  db_url: postgresql+asyncpg://hub_app@db/hub
plans:
  free:
    retention: {raw: 14d}
    limits:
      devices: 0
  gold:
    retention: {raw: soon}
    features: [robots]
homes:
  - id: flat-a
""")
    with pytest.raises(ConfigError) as caught:
        bootstrap.check_config(config)
    # Each says once what it was given: the validator's own words, the formatter adds no second "got".
    assert [str(issue) for issue in caught.value.issues] == [
        "configuration.yaml:7: plans.free.limits.devices: expected a whole number of at least 1, or null for no "
        "limit, got 0",
        "configuration.yaml:9: plans.gold.retention.raw: expected a duration like '30s', '15m', '12h', '7d' or "
        "'2w', got 'soon'",
        "configuration.yaml:10: plans.gold.features[0]: unknown feature 'robots'; known: models",
    ]


def test_plans_without_homes_are_refused_naming_the_line(tmp_path: Path) -> None:
    # A hub of one home has no plan: a `plans:` section there would do nothing, so it is refused.
    config = write_config(tmp_path / "config", "recorder:\n  purge_keep_days: 10\nplans:\n  free:\n"
                                               "    retention: {raw: 14d}\n")
    with pytest.raises(ConfigError) as caught:
        bootstrap.check_config(config)
    assert [str(issue) for issue in caught.value.issues] == [
        "configuration.yaml:3: plans: only a hub of many homes (a `homes:` section) has plans, those of its "
        "tenants (docs/homes.md); this hub serves one home, which has no plan (no limits, every feature, history "
        "kept as `recorder:` says): remove `plans:`, or add `homes:`"
    ]
    assert cli.main(["check-config", "-c", str(config)]) == 1


def test_a_tenant_may_be_put_on_a_plan_of_the_plans_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config", "plans:\n  campus:\n    extends: professional\nhomes:\n  - id: flat-a\n")
    location = ["-c", str(config), "--data", str(tmp_path / "data")]
    assert cli.main(["tenant", "add", "acme", "--plan", "campus", *location]) == 0
    assert cli.main(["tenant", "add", "initech", "--plan", "gold", *location]) == 1
    err = capsys.readouterr().err
    assert "unknown plan 'gold'; expected one of free, starter, professional, industrial, campus" in err
    assert cli.main(["tenant", "list", *location]) == 0
    assert "campus" in capsys.readouterr().out
