"""Tags: an MQTT tag scanner (real Mosquitto) fires tag_scanned, the tag trigger runs, tag entities follow."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import state_of, until
from tests.firmware.conftest import Observer
from tests.hubs import write_config

pytestmark = pytest.mark.services


async def test_an_mqtt_tag_scanner_runs_a_tag_automation(tmp_path: Path, start_hub: Any, mosquitto_server: Any) -> None:
    prefix = f"ha{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "config", f"""\
        mqtt:
          broker: {mosquitto_server.url}
          discovery_prefix: {prefix}
        tag:
          tags:
            A7-6B-90-5F: {{name: Front door}}
        counter:
          front_door:
          any_reader:
        automation:
          - alias: Front door tag
            triggers:
              - trigger: tag
                tag_id: A7-6B-90-5F
            actions:
              - action: counter.increment
                target: {{entity_id: counter.front_door}}
          - alias: Other reader only
            triggers:
              - trigger: tag
                tag_id: [A7-6B-90-5F, 11-22]
                device_id: no-such-reader
            actions:
              - action: counter.increment
                target: {{entity_id: counter.any_reader}}
        """)
    reader = Observer(mosquitto_server.url, f"{prefix}/#")
    discovery = f"{prefix}/tag/hall_reader/config"
    try:
        runtime = await start_hub(config)
        hub = runtime.hub
        reader.publish(discovery, json.dumps({
            "topic": "readers/hall/tag", "value_template": "{{ value_json.PN532.UID }}",
            "device": {"identifiers": ["hall-reader"], "name": "Hall reader"},
        }), retain=True)
        await until(lambda: any(d.name == "Hall reader" for d in hub.require_device_registry()), "the reader's device")
        assert state_of(hub, "tag.front_door") == "unknown"

        scans: list[dict[str, Any]] = []
        hub.bus.listen("tag_scanned", lambda event: scans.append(dict(event.data)))
        await until(lambda: _scan(reader) and state_of(hub, "counter.front_door") != "0", "the front door tag's automation")
        device = next(d for d in hub.require_device_registry() if d.name == "Hall reader")
        assert scans[0] == {"tag_id": "A7-6B-90-5F", "device_id": device.id}
        tag = hub.states.get("tag.front_door")
        assert tag.attributes["tag_id"] == "A7-6B-90-5F" and tag.attributes["last_scanned_by_device_id"] == device.id
        assert tag.state.endswith("+00:00") and "T" in tag.state
        assert state_of(hub, "counter.any_reader") == "0"  # only scans by another reader count there
    finally:
        reader.publish(discovery, "", retain=True)
        reader.close()


def _scan(reader: Observer) -> bool:
    reader.publish("readers/hall/tag", json.dumps({"PN532": {"UID": " A7-6B-90-5F "}}))
    return True
