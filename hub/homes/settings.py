"""A home core's configuration: the process's checked configuration with the home's own parts.

What a home changes (docs/homes.md):
- `homeassistant:` name, time zone and currency come from the home's record;
- `mqtt:` its topic root, its discovery prefix `<root>homeassistant` (with the birth and will
  messages under it); the connection (and its client id) is the process's
  (integrations/mqtt/shared.py);
- `automation:`, `script:` and `scene:` come from the home's folder `<config>/homes/<id>/`, so
  what one home's users write in the UI is never another's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.config import check_configuration
from hub.exceptions import ConfigError
from hub.homes.record import HomeRecord

if TYPE_CHECKING:
    from hub.bootstrap import CheckedConfig

PER_HOME_SECTIONS = {"automation": "automations.yaml", "script": "scripts.yaml", "scene": "scenes.yaml"}
DEFAULT_STATUS_TOPIC = "homeassistant/status"


def home_dir(config_dir: Path, record: HomeRecord) -> Path:
    """The home's own configuration folder."""
    return config_dir / "homes" / record.home_id


def home_raw_config(checked: CheckedConfig, record: HomeRecord, folder: Path) -> dict[str, Any]:
    """Return the configuration the home's core runs: the process's, with the home's parts.

    Raises:
        ConfigError: the home's own files are invalid; the issues name the file and line.
    """
    raw = {key: value for key, value in checked.config.items() if key != "homes"}
    core = dict(raw.get("homeassistant") or {})
    core.update(name=record.name, time_zone=record.time_zone, currency=record.currency)
    raw["homeassistant"] = core
    if isinstance(raw.get("mqtt"), dict):
        raw["mqtt"] = home_mqtt(raw["mqtt"], record)
    raw.update(home_sections(checked, folder))
    return raw


def home_mqtt(section: dict[str, Any], record: HomeRecord) -> dict[str, Any]:
    """The `mqtt:` section of one home: its root, its discovery prefix, its birth and will topics."""
    root = record.topic_root
    mqtt = dict(section, topic_root=root, discovery_prefix=f"{root}{section.get('discovery_prefix', 'homeassistant')}")
    for key in ("birth_message", "will_message"):
        message = mqtt.get(key)
        if isinstance(message, dict) and message.get("topic", DEFAULT_STATUS_TOPIC) == DEFAULT_STATUS_TOPIC:
            mqtt[key] = dict(message, topic=f"{root}{DEFAULT_STATUS_TOPIC}")
    return mqtt


def home_sections(checked: CheckedConfig, folder: Path) -> dict[str, Any]:
    """Load and validate the home's automations, scripts and scenes from its folder.

    A home without a folder gets one: a configuration.yaml that includes an (empty) file per
    section, where the UI's editors save.
    """
    enabled = [i for i in checked.integrations if i.domain in PER_HOME_SECTIONS]
    if not enabled:
        return {}
    _prepare_folder(folder, [i.domain for i in enabled])
    schemas = {i.domain: i.config_schema for i in enabled}
    labelled = {i.domain: i.labelled_sections for i in enabled}
    config, issues = check_configuration(folder, schemas, set(schemas), labelled)
    if issues:
        # Shown from the process's configuration folder: `homes/<id>/configuration.yaml:3`, not a
        # bare `configuration.yaml:3` that reads as the process's own file.
        raise ConfigError([replace(issue, base_dir=str(folder.parent.parent)) for issue in issues])
    return {domain: config[domain] for domain in schemas if domain in config}


def _prepare_folder(folder: Path, domains: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    configuration = folder / "configuration.yaml"
    if not configuration.exists():
        lines = ["# This home's automations, scripts and scenes; the rest is in ../../configuration.yaml."]
        lines += [f"{domain}: !include {PER_HOME_SECTIONS[domain]}" for domain in domains]
        configuration.write_text("\n".join(lines) + "\n")
    for domain in domains:
        included = folder / PER_HOME_SECTIONS[domain]
        if not included.exists():
            included.write_text("{}\n" if domain == "script" else "[]\n")

