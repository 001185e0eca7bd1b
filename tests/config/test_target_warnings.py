"""check-config warns (file:line) about entity ids that automations, scripts and scenes name but
that nothing would make, and says how it decided; it refuses repeated ids and keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub import bootstrap
from tests.hubs import write_config
from tests.test_cli import hub as hub_command

METER = """
from hub import hookimpl
from hub.core.entity import SensorEntity


class Meter(SensorEntity):
    name = "Meter power"
    unique_id = "meter-power"
    native_value = 5


@hookimpl
async def setup_integration(hub, config):
    await hub.entities.add(Meter(), "meter")
"""

CONFIGURATION = """\
homeassistant:
  name: Test
meter:
input_boolean:
  heater_allowed: {}
automation: !include automations.yaml
script: !include scripts.yaml
scene: !include scenes.yaml
"""

AUTOMATIONS = """\
- id: heater_off
  alias: Heater off
  triggers:
    - trigger: state
      entity_id: sensor.meter_power
  conditions:
    - condition: state
      entity_id: input_boolean.heater_allowed
      state: "on"
  actions:
    - action: switch.turn_off
      target:
        entity_id: switch.heater_relya
    - action: script.turn_on
      target:
        entity_id: script.boost, scene.evening
    - action: homeassistant.turn_on
      target:
        entity_id: "{{ 'switch.' ~ 'anything' }}"
"""

SCRIPTS = """\
boost:
  sequence:
    - action: automation.turn_off
      entity_id: automation.heater_off
    - action: light.turn_on
      data:
        entity_id: [light.kitchen, all]
"""

SCENES = """\
- name: Evening
  entities:
    sensor.meter_power: "5"
    switch.plug_1: "on"
"""


def _config(folder: Path) -> Path:
    write_config(folder, CONFIGURATION, {"meter": METER})
    (folder / "automations.yaml").write_text(AUTOMATIONS)
    (folder / "scripts.yaml").write_text(SCRIPTS)
    (folder / "scenes.yaml").write_text(SCENES)
    return folder


async def _warnings(config: Path, data: Path) -> list[str]:
    checked = bootstrap.check_config(config)
    return [issue.format(config) for issue in await bootstrap.check_entity_references(config, checked, data)]


async def test_unknown_targets_are_warned_with_file_line_and_how(tmp_path: Path, start_hub: Any) -> None:
    config, data = _config(tmp_path / "config"), tmp_path / "data"

    # Before the hub ever ran: no registry; what the configuration makes is known.
    before = await _warnings(config, data)
    assert [w.split(": no entity ")[0] for w in before] == [
        "automations.yaml:5: automation[0].triggers[0].entity_id",
        "automations.yaml:13: automation[0].actions[0].target.entity_id",
        "scripts.yaml:7: script.boost.sequence[1].data.entity_id",
        "scenes.yaml:3: scene[0].entities",
        "scenes.yaml:4: scene[0].entities",
    ]
    assert f"no entity switch.heater_relya: not in the entity registry (no database yet in {data.resolve()}" in before[1]
    assert "no configured integration makes it (asked: automation, input_boolean, scene, script)" in before[1]
    assert "a device that announces it later (MQTT discovery) would make it" in before[1]

    # Once the hub has run, the meter is in the registry: only the typo and the strangers remain.
    runtime = await start_hub(config, data)
    assert runtime.hub.entity_registry.get("sensor.meter_power") is not None
    await bootstrap.stop(runtime)
    after = await _warnings(config, data)
    assert [w.split(": no entity ")[1].split(":")[0] for w in after] == [
        "switch.heater_relya", "light.kitchen", "switch.plug_1",
    ]
    # The meter, the input_boolean and the automation are registered.
    assert f"not in the entity registry (sqlite+aiosqlite:///{data.resolve()}/hub.db, 3 entities)" in after[0]


def test_check_config_prints_the_warnings_and_still_passes(tmp_path: Path) -> None:
    config = _config(tmp_path / "config")
    result = hub_command("check-config", "-c", str(config), "--data", str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout
    assert "Warnings in" in result.stderr
    assert "automations.yaml:13: automation[0].actions[0].target.entity_id: no entity switch.heater_relya" in result.stderr
    assert not (tmp_path / "data").exists()  # reading the registry creates nothing


def test_repeated_scene_ids_and_names_and_script_keys_are_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", "scene: !include scenes.yaml\nscript: !include scripts.yaml\n")
    (config / "scenes.yaml").write_text(
        "- {id: evening, name: Evening, entities: {}}\n"
        "- {id: evening, name: Late evening, entities: {}}\n"
        "- {name: Evening, entities: {}}\n"
    )
    (config / "scripts.yaml").write_text(
        "boost:\n  sequence: []\nother:\n  sequence: []\nboost:\n  alias: Second boost\n  sequence: []\n"
    )
    result = hub_command("check-config", "-c", str(config))
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "scenes.yaml:2: scene[1].id: id 'evening' is used by another scene (scenes.yaml:1); this one is skipped" in output
    assert "scenes.yaml:3: scene[2].name: entity_id 'scene.evening' is used by another scene (scenes.yaml:1)" in output
    assert ("scripts.yaml:5: script.boost: script 'boost' is defined twice (lines 1 and 5); only the second would run"
            in output)


async def test_the_hub_keeps_the_first_of_two_scenes_with_one_id(tmp_path: Path, start_hub: Any) -> None:
    config = write_config(tmp_path / "config", "scene: !include scenes.yaml\n")
    (config / "scenes.yaml").write_text(
        "- {id: evening, name: Evening, entities: {}}\n- {id: evening, name: Late evening, entities: {}}\n"
    )
    runtime = await start_hub(config)
    assert runtime.hub.states.get("scene.evening") is not None
    assert runtime.hub.states.get("scene.late_evening") is None
