"""Two automations with one id: check-config names both places; the hub keeps the first and says so."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.hubs import write_config
from tests.test_cli import hub as hub_command

AUTOMATIONS = """\
- id: same
  alias: First
  trigger: {platform: event, event_type: a}
  action: []
- id: same
  alias: Second
  trigger: {platform: event, event_type: b}
  action: []
"""


def _config(folder: Path) -> Path:
    write_config(folder, "homeassistant:\n  name: Test\nautomation: !include automations.yaml\n")
    (folder / "automations.yaml").write_text(AUTOMATIONS)
    return folder


def test_check_config_reports_a_duplicate_automation_id(tmp_path: Path) -> None:
    folder = _config(tmp_path / "config")
    checked = hub_command("check-config", "-c", str(folder))
    assert checked.returncode == 1
    assert "automations.yaml:5: automation[1].id: id 'same' is used by another automation (automations.yaml:1)" in (
        checked.stdout + checked.stderr)


async def test_the_hub_keeps_the_first_and_logs_the_second(tmp_path: Path, start_hub: Any,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "automations")
    runtime = await start_hub(_config(tmp_path / "config"))
    assert runtime.hub.states.get("automation.first") is not None
    assert runtime.hub.states.get("automation.second") is None
    assert "id 'same' is used by another automation" in caplog.text
