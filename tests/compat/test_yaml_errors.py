"""Configuration errors say what is wrong and where, as a user pasting HA YAML needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import bootstrap
from hub.exceptions import ConfigError


def _issues(config_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        checked = bootstrap.check_config(config_dir)
        raise AssertionError(f"accepted: {checked}")
    return [issue.format() for issue in caught.value.issues]


async def _integration_issues(config_dir: Path) -> list[str]:
    checked = bootstrap.check_config(config_dir)
    return [issue.format() for issue in await bootstrap.check_integration_configs(config_dir, checked)]


def test_a_tab_in_the_indentation_is_named(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("automation:\n  - alias: x\n    triggers:\n\t  - trigger: state\n")
    assert _issues(tmp_path) == [
        "configuration.yaml:4: invalid YAML syntax: a tab character at column 1: YAML indentation must use spaces, not tabs"
    ]


async def test_an_unknown_key_is_reported_with_the_missing_one(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("automation: !include automations.yaml\nscript:\n  hello:\n    sequenze: []\n")
    (tmp_path / "automations.yaml").write_text("- alias: Typo\n  triger:\n    - trigger: event\n      event_type: x\n  actions: []\n")
    assert sorted(await _integration_issues(tmp_path)) == [
        "automations.yaml:2: automation[0].triger: 'triger' is an invalid option for 'automation', check: triger; required key 'triggers' not provided",
        "configuration.yaml:4: script.hello.sequenze: 'sequenze' is an invalid option for 'script', check: sequenze; required key 'sequence' not provided",
    ]
