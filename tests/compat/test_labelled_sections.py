"""Labelled sections (`automation bars:`, `script extra:`): loaded and run, never ignored."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from hub import bootstrap
from hub.exceptions import ConfigError
from tests.compat.conftest import state_of, until
from tests.hubs import write_config

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


def _config(tmp_path: Path, text: str) -> Path:
    config = write_config(tmp_path / "config", text)
    folder = config / "blueprints" / "automation" / "me"
    folder.mkdir(parents=True)
    (folder / "count.yaml").write_text(BLUEPRINT)
    return config


async def test_automation_bars_with_a_blueprint_instance_and_a_plain_automation_both_run(tmp_path: Path, start_hub: Any) -> None:
    config = _config(tmp_path, """\
        counter:
          from_blueprint:
          from_plain:
          from_main:
        automation:
          - alias: main
            triggers: {trigger: event, event_type: ping}
            actions: {action: counter.increment, target: {entity_id: counter.from_main}}
        automation bars:
          - alias: blueprinted
            use_blueprint:
              path: me/count.yaml
              input: {event_name: ping, counter: counter.from_blueprint}
          - alias: plain
            trigger: {platform: event, event_type: ping}
            action: {service: counter.increment, entity_id: counter.from_plain}
        script extra:
          say_hi:
            sequence: [{event: hi}]
        """)
    runtime = await start_hub(config)
    hub = runtime.hub
    assert {state.entity_id for state in hub.states.all("automation")} == {"automation.main", "automation.blueprinted", "automation.plain"}
    hub.bus.fire("ping", {})
    counters = [f"counter.{name}" for name in ("from_main", "from_blueprint", "from_plain")]
    await until(lambda: [state_of(hub, c) for c in counters] == ["1", "1", "1"], "all three automations to run")
    assert hub.states.get("script.say_hi") is not None
    # A reload reads every section again: nothing is lost.
    await hub.services.call("automation", "reload", {}, blocking=True)
    assert len(hub.states.all("automation")) == 3


def test_a_labelled_section_the_integration_would_ignore_is_refused_with_file_and_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", """\
        recorder:
        recorder archive:
          commit_interval: 1
        """)
    with pytest.raises(ConfigError) as caught:
        bootstrap.check_config(config)
    assert [issue.format() for issue in caught.value.issues] == [
        "configuration.yaml:2: recorder archive: integration 'recorder' does not take labelled sections: move this into 'recorder:'"
    ]


def test_a_script_defined_in_two_sections_names_both_places(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", textwrap.dedent("""\
        script:
          lights_off:
            sequence: []
        script extra:
          lights_off:
            sequence: []
        """))
    with pytest.raises(ConfigError) as caught:
        bootstrap.check_config(config)
    assert [issue.format() for issue in caught.value.issues] == [
        "configuration.yaml:5: script extra.lights_off: duplicate key 'lights_off': defined at configuration.yaml:2 and again under 'script extra' at configuration.yaml:5"
    ]


def test_an_unknown_integration_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", "automation:\nnot_an_integration:\n  a: 1\n")
    with pytest.raises(ConfigError) as caught:
        bootstrap.check_config(config)
    assert [issue.format() for issue in caught.value.issues] == [
        "configuration.yaml:2: not_an_integration: Integration error: not_an_integration - Integration 'not_an_integration' not found."
    ]
