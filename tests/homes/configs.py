"""Write the configuration.yaml of a hub of many homes: storage, the broker, other sections, `homes:`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.hubs import write_config


@dataclass(frozen=True, slots=True)
class HomesConfig:
    """The configuration folder written, and the prefix of this test's topic roots."""

    folder: Path
    run: str

    def root(self, home_id: str) -> str:
        """The topic root a home listed without one was given."""
        return f"{self.run}/{home_id}/"


def write_homes_config(folder: Path, storage: str, mqtt: str | Mapping[str, Any], homes: Iterable[Mapping[str, Any]],
                       sections: str = "") -> HomesConfig:
    """Write configuration.yaml for a hub serving `homes` on one database and one broker.

    Args:
        folder: the configuration folder.
        storage: the `storage:` section (Roles.storage_yaml()).
        mqtt: the broker's URL, or the whole `mqtt:` section.
        homes: each home of `homes:`; one without a `topic_root` gets `<run>/<id>/`, under a
            prefix of this test's own, so retained configs on the session's broker reach no other test.
        sections: more YAML, written before `homes:`.
    """
    run = f"t{uuid.uuid4().hex[:8]}"
    listed = [{**home, "topic_root": home.get("topic_root", f"{run}/{home['id']}/")} for home in homes]
    section = {"broker": mqtt} if isinstance(mqtt, str) else dict(mqtt)
    text = (storage + yaml.safe_dump({"mqtt": section}, sort_keys=False) + sections
            + yaml.safe_dump({"homes": listed}, sort_keys=False, default_flow_style=None))
    return HomesConfig(write_config(folder, text), run)
