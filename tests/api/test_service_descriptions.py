"""Every service a hub registers is described for clients (`get_services`): name, description,
every field its schema takes, and a target when it acts on entities. A new service without a
services.yaml fails here."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from hub import bootstrap
from hub.api.service_info import describe_services, load_descriptions
from hub.core.services import TARGET_KEYS

ROOT = Path(__file__).resolve().parents[2]

# Every built-in integration that registers services, beside what config/ already enables.
EVERYTHING = """
input_boolean: {heater_allowed: {}}
input_number: {setpoint: {min: 0, max: 30}}
input_select: {mode: {options: [eco, comfort]}}
input_text: {note: {}}
input_datetime: {wake_up: {has_time: true}}
input_button: {reset_stats: {}}
counter: {relay_switches: {}}
timer: {boost: {}}
schedule: {}
backup: {schedule: "0 3 * * *"}
local_calendar: {name: Tariffs}
utility_meter: {kitchen_daily: {source: sensor.demo_001_energy, cycle: daily}}
pzem: {port: "loop://", scan_interval: 3600}
entity_domains:
"""

# One entity of each domain whose services the core registers with its first entity.
ENTITY_DOMAINS = """
from hub import hookimpl
from hub.core.entity import ButtonEntity, NumberEntity, SelectEntity, SwitchEntity, TextEntity, ToggleEntity


class Plug(SwitchEntity):
    name = "Plug"
    is_on = False


class Lamp(ToggleEntity):
    domain = "light"
    name = "Lamp"
    is_on = False


class Setpoint(NumberEntity):
    name = "Setpoint"
    native_value = 1


class Mode(SelectEntity):
    name = "Mode"
    options = ["a", "b"]
    current_option = "a"


class Label(TextEntity):
    name = "Label"
    native_value = "x"


class Press(ButtonEntity):
    name = "Press"


@hookimpl
async def setup_integration(hub, config):
    for entity in (Plug(), Lamp(), Setpoint(), Mode(), Label(), Press()):
        await hub.entities.add(entity, "entity_domains")
"""


def _schema_keys(schema: Any) -> set[str]:
    """The data keys a service's voluptuous schema takes (empty for other callables)."""
    if isinstance(schema, vol.Schema) and isinstance(schema.schema, dict):
        return {str(getattr(key, "schema", key)) for key in schema.schema}
    return set()


@pytest.fixture
async def everything(tmp_path: Path, start_hub: Any) -> Any:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns(".storage", "secrets.yaml"))
    text = (config / "configuration.yaml").read_text().replace("\nmqtt:\n", "\nmqtt:\n  embedded:\n    port: 0\n")
    (config / "configuration.yaml").write_text(text + EVERYTHING)
    folder = config / "custom_integrations" / "entity_domains"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(textwrap.dedent(ENTITY_DOMAINS))
    runtime: bootstrap.Runtime = await start_hub(config)
    return runtime.hub


async def test_every_registered_service_is_described(everything: Any) -> None:
    hub = everything
    described = describe_services(hub)
    registered = hub.services.services()
    # What the brief of this test promises: the domains a user of this field calls.
    assert {
        "homeassistant", "switch", "light", "number", "select", "text", "button", "automation", "script",
        "scene", "schedule", "input_boolean", "input_number", "input_select", "input_text", "input_datetime",
        "input_button", "counter", "timer", "recorder", "mqtt", "notify", "persistent_notification", "backup",
        "calendar", "utility_meter", "pzem", "onnx",
    } <= set(registered)
    missing = []
    for domain, services in registered.items():
        if domain == "entity_domains":
            continue
        for name, service in services.items():
            description = described[domain][name]
            where = f"{domain}.{name}"
            if not description["name"] or not description["description"]:
                missing.append(f"{where}: no name or description")
            keys = _schema_keys(service.schema)
            if keys & {"entity_id", "device_id", "area_id"} and "target" not in description:
                if not ({"entity_id"} & set(description["fields"])):
                    missing.append(f"{where}: takes entities but has no target")
            for key in sorted(keys - set(TARGET_KEYS) - set(description["fields"])):
                missing.append(f"{where}: field {key} is not described")
            for key, field in description["fields"].items():
                if not isinstance(field, dict) or "selector" not in field and "fields" not in field:
                    missing.append(f"{where}: field {key} has no selector")
    assert not missing, "\n".join(missing)


def test_every_services_yaml_is_well_formed() -> None:
    files = [
        path
        for folder in ("hub", "integrations", "automations")
        for path in (ROOT / folder).rglob("*.yaml")
        if path.name == "services.yaml" or path.parent.name == "services"
    ]
    assert len(files) >= 20
    for path in files:
        services = load_descriptions(path)
        assert services, f"{path}: empty or broken"
        for name, description in services.items():
            where = f"{path.relative_to(ROOT)}: {name}"
            assert description.get("name") and description.get("description"), where
            for field, spec in (description.get("fields") or {}).items():
                assert spec.get("name") and spec.get("description") and "selector" in spec, f"{where}.{field}"
