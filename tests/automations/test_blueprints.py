"""Blueprints: Home Assistant's built-ins load and run unchanged, and the ones we ship work.

Sources: https://www.home-assistant.io/docs/blueprint/schema/ and
https://www.home-assistant.io/docs/automation/using_blueprints/ (use_blueprint with path and
input, defaults, !input). The fixtures in fixtures/blueprints/*/homeassistant/ are Home
Assistant's own motion_light, notify_leaving_zone and confirmable_notification files, byte for
byte (fixtures/blueprints/README.md names the commits); notify_leaving_zone uses the newer
`triggers:`/`trigger: state`/`conditions:`/`actions:` keys, the other two the older ones.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from automations import scripts
from automations.loader import config_issues
from hub.core.clock import ManualClock
from hub.core.hub import Hub
from tests.automations.conftest import Recorder, load_yaml_text, setup_automations

FIXTURES = Path(__file__).parent / "fixtures"


def use_fixtures(hub: Hub, tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "blueprints", tmp_path / "blueprints")
    hub.config.config_dir = tmp_path


async def test_ha_motion_light(hub: Hub, clock: ManualClock, tmp_path: Path) -> None:
    use_fixtures(hub, tmp_path)
    lights = Recorder.__new__(Recorder)
    lights.calls = []
    hub.services.register("light", "turn_on", lights._handle)
    hub.services.register("light", "turn_off", lights._handle)
    hub.states.set("binary_sensor.hall_motion", "off")
    issues = await setup_automations(
        hub,
        """
        - alias: Hall light
          use_blueprint:
            path: homeassistant/motion_light.yaml
            input:
              motion_entity: binary_sensor.hall_motion
              light_target:
                entity_id: light.hall
              no_motion_wait: 60
        """,
    )
    assert issues == []
    hub.states.set("binary_sensor.hall_motion", "on")
    await clock.advance(0)
    assert [(c.service, c.data["entity_id"]) for c in lights.calls] == [("turn_on", ["light.hall"])]
    hub.states.set("binary_sensor.hall_motion", "off")
    await clock.advance(59)
    assert len(lights.calls) == 1
    await clock.advance(1)
    await hub.block_till_done()
    assert [c.service for c in lights.calls] == ["turn_on", "turn_off"]
    assert hub.states.get("automation.hall_light").attributes["mode"] == "restart"


async def test_ha_notify_leaving_zone(hub: Hub, tmp_path: Path) -> None:
    use_fixtures(hub, tmp_path)
    notes = Recorder.__new__(Recorder)
    notes.calls = []
    hub.services.register("notify", "mobile_app_phone", notes._handle)
    hub.states.set("zone.home", "0", {"friendly_name": "Home"})
    hub.states.set("person.paulus", "home", {"friendly_name": "Paulus"})
    issues = await setup_automations(
        hub,
        """
        - alias: Paulus leaves
          use_blueprint:
            path: homeassistant/notify_leaving_zone.yaml
            input:
              person_entity: person.paulus
              zone_entity: zone.home
              notify_device: phone
        """,
    )
    assert issues == []
    hub.states.set("person.paulus", "not_home", {"friendly_name": "Paulus"})
    await hub.block_till_done()
    assert [c.data for c in notes.calls] == [{"message": "Paulus has left Home"}]
    # The blueprint's `conditions:` holds: moving on between other places is not leaving home.
    hub.states.set("person.paulus", "Work", {"friendly_name": "Paulus"})
    hub.states.set("person.paulus", "home", {"friendly_name": "Paulus"})
    await hub.block_till_done()
    assert len(notes.calls) == 1


async def test_ha_confirmable_notification_script(hub: Hub, tmp_path: Path, calls: Recorder) -> None:
    use_fixtures(hub, tmp_path)
    notes = Recorder.__new__(Recorder)
    notes.calls = []
    hub.services.register("notify", "mobile_app_phone", notes._handle)
    await scripts.setup_integration(
        hub,
        load_yaml_text(
            """
            confirm_heater:
              use_blueprint:
                path: homeassistant/confirmable_notification.yaml
                input:
                  notify_device: phone
                  message: Turn the heater off?
                  confirm_action:
                    - action: test.record
                      data: {answer: confirmed}
            """,
            "scripts.yaml",
        ),
    )
    assert config_issues(hub, "script") == []
    await hub.services.call("script", "turn_on", {"entity_id": "script.confirm_heater"})
    for _ in range(20):
        if notes.calls:
            break
        await asyncio.sleep(0)
    sent = notes.calls[0].data
    assert sent["message"] == "Turn the heater off?" and sent["title"] == ""
    confirm = sent["data"]["actions"][0]
    assert confirm["title"] == "Confirm" and confirm["action"].startswith("CONFIRM_")
    hub.bus.fire("mobile_app_notification_action", {"action": confirm["action"]})
    await hub.block_till_done()
    assert calls.data == [{"answer": "confirmed"}]


async def test_shipped_blueprints(hub: Hub, clock: ManualClock, calls: Recorder, tmp_path: Path) -> None:
    hub.config.config_dir = tmp_path
    relays = Recorder.__new__(Recorder)
    relays.calls = []
    hub.services.register("switch", "turn_off", relays._handle)
    hub.services.register("notify", "notify", relays._handle)
    hub.states.set("sensor.heater_power", "100")
    hub.states.set("sensor.energy_today", "12.345", {"friendly_name": "Energy today"})
    hub.states.set("switch.heater", "on", {"friendly_name": "Heater"})
    hub.states.set("sensor.plug_power", "5")
    issues = await setup_automations(
        hub,
        """
        - alias: Heater over-power
          use_blueprint:
            path: powerhub/relay_off_on_overpower.yaml
            input:
              power_sensor: sensor.heater_power
              relay: switch.heater
              max_power: 2000
              duration: 10
              notify_action: test.record
        - alias: Plug offline
          use_blueprint:
            path: powerhub/notify_device_offline.yaml
            input:
              watched_entity: sensor.plug_power
              offline_for: 60
        - alias: Energy report
          use_blueprint:
            path: powerhub/daily_energy_report.yaml
            input:
              energy_sensor: sensor.energy_today
              report_time: "13:00:00"
              notify_action: test.other
        - alias: Missing input
          use_blueprint:
            path: powerhub/relay_off_on_overpower.yaml
            input:
              relay: switch.heater
        """,
    )
    assert len(issues) == 1 and "Missing input power_sensor" in issues[0].message and issues[0].line == 24
    hub.states.set("sensor.heater_power", "2500")
    await clock.advance(10)
    await hub.block_till_done()
    assert [c.service for c in relays.calls] == ["turn_off"]
    assert calls.data[0]["message"] == "Heater was turned off: 2500 W above 2000 W."
    hub.states.set("sensor.plug_power", "unavailable")
    await clock.advance(60)
    await hub.block_till_done()
    assert relays.calls[-1].data["title"] == "Device offline"
    await clock.advance(3600)
    await hub.block_till_done()
    report = [c for c in calls.calls if c.service == "other"][0].data
    assert report["message"] == "Energy today: 12.35 kWh, 3.7 in cost."
