"""The `homes:` section: checked like every section, and only on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import bootstrap
from hub.exceptions import ConfigError
from tests.hubs import write_config


async def test_homes_need_postgresql(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", "homes:\n  - id: flat-a\n")
    with pytest.raises(ConfigError) as caught:
        await bootstrap.start(config, tmp_path / "data", port=0)
    assert "many homes in one process need PostgreSQL" in str(caught.value)


@pytest.mark.parametrize(("homes", "expected"), [
    ("  - id: Flat A\n", "expected lower-case letters"),
    ("  - id: a\n  - id: a\n", "listed twice"),
    ("  - id: a\n    topic_root: site/\n  - id: b\n    topic_root: site/b/\n", "overlaps"),
    ("  - id: a\n    members: {alice: king}\n", "expected a role"),
    ("  - id: a\n    topic_root: ''\n", "a topic root of its own"),
])
def test_a_bad_homes_section_names_the_line_and_what_is_expected(tmp_path: Path, homes: str, expected: str) -> None:
    config = write_config(tmp_path / "config", "homes:\n" + homes)
    with pytest.raises(ConfigError) as caught:
        bootstrap.check_config(config)
    text = str(caught.value)
    assert "configuration.yaml:" in text and "homes" in text and expected in text, text
