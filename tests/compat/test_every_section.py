"""One configuration with every Home Assistant section the hub takes: check-config passes, the hub starts.

Each section's behaviour has its own tests (tests/compat/test_*.py); this one proves they load
together as a user pastes them, with a real Mosquitto under `mqtt:`, and that each created the
entities HA would.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import astral
import astral.sun
import pytest

from hub import bootstrap
from hub.core.clock import ManualClock
from tests.compat.conftest import state_of, until
from tests.hubs import write_config

pytestmark = pytest.mark.services

BLUEPRINT = """\
blueprint:
  name: Count an event
  domain: automation
  input:
    event_name: {name: Event}
    counter: {name: Counter}
triggers:
  - trigger: event
    event_type: !input event_name
actions:
  - action: counter.increment
    target:
      entity_id: !input counter
"""


async def test_a_configuration_with_every_section_passes_check_config_and_starts(tmp_path: Path, start_hub: Any, mosquitto_server: Any) -> None:
    prefix = f"ha{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "config", f"""\
        homeassistant:
          name: Home
          latitude: 52.37
          longitude: 4.89
          time_zone: Europe/Amsterdam
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: {prefix}
        input_number:
          power:
            min: 0
            max: 5000
            unit_of_measurement: W
        counter:
          pings:
          blueprinted:
        sensor:
          - platform: template
            sensors:
              house_power:
                unit_of_measurement: W
                value_template: "{{{{ states('input_number.power') | float(0) }}}}"
          - platform: integration
            source: sensor.house_power
            name: House energy
            unit_prefix: k
            method: left
          - platform: derivative
            source: sensor.house_energy
            name: House energy rate
          - platform: statistics
            name: House power mean
            entity_id: sensor.house_power
            state_characteristic: mean
            sampling_size: 10
          - platform: min_max
            name: Power max
            entity_ids: [sensor.house_power, sensor.modern_power]
          - platform: filter
            name: House power smooth
            entity_id: sensor.house_power
            filters:
              - filter: lowpass
                time_constant: 5
        sensor extra:
          - platform: derivative
            source: sensor.house_power
            name: Power trend
        binary_sensor:
          - platform: threshold
            name: House busy
            entity_id: sensor.house_power
            upper: 1000
            hysteresis: 10
          - platform: template
            sensors:
              house_idle:
                value_template: "{{{{ states('input_number.power') | float(0) < 50 }}}}"
        switch:
          - platform: template
            switches:
              boost:
                value_template: "{{{{ is_state('input_number.power', '1000.0') }}}}"
                turn_on: {{action: input_number.set_value, target: {{entity_id: input_number.power}}, data: {{value: 1000}}}}
                turn_off: {{action: input_number.set_value, target: {{entity_id: input_number.power}}, data: {{value: 0}}}}
        template:
          - sensor:
              - name: Modern power
                unit_of_measurement: W
                state: "{{{{ states('input_number.power') | float(0) * 2 }}}}"
            binary_sensor:
              - name: Modern busy
                state: "{{{{ states('sensor.modern_power') | float(0) > 100 }}}}"
                delay_off: "00:00:05"
          - trigger:
              - trigger: event
                event_type: ping
            sensor:
              - name: Last ping
                state: "{{{{ trigger.event.data.n }}}}"
          - number:
              - name: Limit
                state: "{{{{ 7 }}}}"
                set_value: []
                step: 1
                min: 0
                max: 10
            select:
              - name: Mode
                state: "{{{{ 'eco' }}}}"
                options: "{{{{ ['eco', 'boost'] }}}}"
                select_option: []
            button:
              - name: Ping
                press: {{event: ping, event_data: {{n: 1}}}}
        group:
          power_things:
            name: Power things
            entities: [switch.boost, binary_sensor.house_busy]
        notify:
          - name: everyone
            platform: group
            services:
              - action: persistent_notification
        utility_meter:
          house_daily:
            source: sensor.house_energy
            cycle: daily
            tariffs: [peak, offpeak]
        sun:
        zone:
          - name: Office
            latitude: 52.36
            longitude: 4.90
            radius: 200
        tag:
        local_calendar:
          - name: Cheap power
            events:
              - summary: Night
                start: "2024-06-01 23:00:00"
                end: "2024-06-02 07:00:00"
                rrule: FREQ=DAILY
        automation:
          - alias: Count pings
            triggers: {{trigger: event, event_type: ping}}
            actions: {{action: counter.increment, target: {{entity_id: counter.pings}}}}
          - alias: At sunset
            triggers: {{trigger: sun, event: sunset, offset: "-00:30:00"}}
            actions: {{action: mqtt.publish, data: {{topic: "{prefix}/sun", payload: "{{{{ trigger.event }}}} {{{{ now().isoformat() }}}}"}}}}
          - alias: At the office
            triggers: {{trigger: zone, entity_id: person.anna, zone: zone.office, event: enter}}
            conditions: {{condition: sun, after: sunrise, before: sunset}}
            actions: []
          - alias: Cheap power starts
            triggers: {{trigger: calendar, event: start, entity_id: calendar.cheap_power, offset: "-00:05:00"}}
            actions: []
          - alias: Tag
            triggers: {{trigger: tag, tag_id: A7-6B-90-5F}}
            actions: []
        automation bars:
          - alias: Blueprinted
            use_blueprint:
              path: me/count.yaml
              input: {{event_name: ping, counter: counter.blueprinted}}
        script extra:
          say_hi:
            sequence: [{{event: hi}}]
        """)
    folder = config / "blueprints" / "automation" / "me"
    folder.mkdir(parents=True)
    (folder / "count.yaml").write_text(BLUEPRINT)

    # What `hub check-config` runs: the schemas, then each integration's own checks.
    checked = bootstrap.check_config(config)
    assert [issue.format() for issue in await bootstrap.check_integration_configs(config, checked)] == []
    hub = (await start_hub(config)).hub

    expected = [
        "sensor.house_power", "sensor.house_energy", "sensor.house_energy_rate", "sensor.house_power_mean", "sensor.power_max",
        "sensor.house_power_smooth", "sensor.power_trend", "binary_sensor.house_busy", "binary_sensor.house_idle", "switch.boost",
        "sensor.modern_power", "binary_sensor.modern_busy", "sensor.last_ping", "number.limit", "select.mode", "button.ping",
        "group.power_things", "sensor.house_daily_peak", "sensor.house_daily_offpeak", "select.house_daily", "sun.sun",
        "zone.home", "zone.office", "calendar.cheap_power", "automation.count_pings", "automation.at_sunset",
        "automation.at_the_office", "automation.cheap_power_starts", "automation.tag", "automation.blueprinted", "script.say_hi",
    ]
    assert [entity_id for entity_id in expected if hub.states.get(entity_id) is None] == []
    assert hub.services.has_service("notify", "everyone")
    assert hub.services.has_service("utility_meter", "calibrate")

    # The pieces work together: a switch sets the power, the sensors and the group follow.
    await hub.services.call("switch", "turn_on", {"entity_id": "switch.boost"}, blocking=True)
    await until(lambda: state_of(hub, "binary_sensor.house_busy") == "off" and state_of(hub, "sensor.modern_power") == "2000.0", "the template sensors")
    assert state_of(hub, "switch.boost") == "on" and state_of(hub, "group.power_things") == "on"
    assert state_of(hub, "sensor.power_max") == "2000.0"
    await hub.services.call("button", "press", {"entity_id": "button.ping"}, blocking=True)
    await until(lambda: state_of(hub, "counter.pings") == "1" and state_of(hub, "counter.blueprinted") == "1", "both ping automations")
    await until(lambda: state_of(hub, "sensor.last_ping") == "1", "the trigger-based template sensor")

    # The sun trigger on a frozen clock: 30 minutes before the computed sunset, its action
    # publishes to the real broker.
    sunset = astral.sun.sunset(astral.Observer(52.37, 4.89, 0), date(2024, 6, 1), tzinfo=UTC)
    clock = ManualClock(datetime(2024, 6, 1, 10, 0, tzinfo=UTC), time_zone="Europe/Amsterdam")
    hub.clock = clock
    # Turned off and on, the automation arms its trigger again, on the frozen clock.
    await hub.services.call("automation", "turn_off", {"entity_id": "automation.at_sunset"}, blocking=True)
    await hub.services.call("automation", "turn_on", {"entity_id": "automation.at_sunset"}, blocking=True)
    async with aiomqtt.Client(mosquitto_server.host, mosquitto_server.port, identifier=f"sub-{prefix}") as subscriber:
        await subscriber.subscribe(f"{prefix}/sun")
        await clock.set_time(sunset - timedelta(minutes=30, seconds=1))
        await clock.set_time(sunset - timedelta(minutes=30))
        async with asyncio.timeout(10):
            message = await anext(aiter(subscriber.messages))
    at = (sunset - timedelta(minutes=30)).astimezone(clock.time_zone).isoformat()
    assert message.payload.decode() == f"sunset {at}"
