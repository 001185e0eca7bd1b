"""Simulated nodes on a real Mosquitto: discovery, telemetry, relays, offline buffer, OTA."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable

import pytest

from firmware.ota import pack, sign
from firmware.sim.fleet import Fleet, device_key
from tests.firmware.conftest import Observer, step_until, stepping_wall

pytestmark = pytest.mark.services

ABBREVIATED_DEVICE = {"ids", "name", "mf", "mdl", "sw"}


def test_discovery_configs_are_retained_and_valid(mosquitto_server, make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet(mosquitto_server.url, count=2, relays=2)
    prefix = fleet.nodes[0].config["discovery_prefix"]
    node_id = fleet.nodes[0].node_id
    early = Observer(mosquitto_server.url, "devices/+/relay2/state")
    try:
        # The relay states follow the configs on the same connection, so the broker has every config then.
        step_until(fleet, lambda: len(early.messages) == 2, what="both nodes announced")
    finally:
        early.close()

    # A client arriving later gets every config as a retained message, as the hub will.
    late = Observer(mosquitto_server.url, f"{prefix}/#", f"devices/{node_id}/#")
    try:
        configs = step_until(fleet, lambda: len(late.retained(prefix)) == 18 and late.retained(prefix), what="18 retained configs (6 sensors, 2 relays, a restart button each)")
        assert late.retained(f"devices/{node_id}/status") == {f"devices/{node_id}/status": b"online"}
    finally:
        late.close()
    sensors = {topic: json.loads(p) for topic, p in configs.items() if f"/sensor/{node_id}/" in topic}
    power = sensors[f"{prefix}/sensor/{node_id}/power/config"]
    assert power["~"] == f"devices/{node_id}"
    assert (power["stat_t"], power["avty_t"]) == ("~/state", "~/status")
    assert (power["dev_cla"], power["stat_cla"], power["unit_of_meas"]) == ("power", "measurement", "W")
    energy = sensors[f"{prefix}/sensor/{node_id}/energy/config"]
    assert (energy["dev_cla"], energy["stat_cla"], energy["unit_of_meas"]) == ("energy", "total_increasing", "kWh")
    units = {c["dev_cla"]: c.get("unit_of_meas") for c in sensors.values()}
    assert units == {"power": "W", "energy": "kWh", "voltage": "V", "current": "A", "frequency": "Hz", "power_factor": None}
    for config in sensors.values():
        assert set(config["dev"]) == ABBREVIATED_DEVICE and config["dev"]["ids"] == [node_id]
        assert config["uniq_id"].startswith(node_id + "_") and config["val_tpl"].startswith("{{ value_json.")
    switch = json.loads(configs[f"{prefix}/switch/{node_id}/relay2/config"])
    assert (switch["cmd_t"], switch["stat_t"], switch["pl_on"], switch["pl_off"]) == ("~/relay2/set", "~/relay2/state", "ON", "OFF")


def test_telemetry_relays_and_last_will(mosquitto_server, make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet(mosquitto_server.url)
    node = fleet.nodes[0]
    base = f"devices/{node.node_id}"
    watch = Observer(mosquitto_server.url, f"{base}/#")
    try:
        states = step_until(fleet, lambda: len(watch.on(f"{base}/state")) >= 2 and watch.on(f"{base}/state"), what="two readings")
        reading = json.loads(states[-1])
        assert set(reading) >= {"voltage", "current", "power", "energy", "frequency", "power_factor", "ts"}
        assert 200 < reading["voltage"] < 260 and 49 < reading["frequency"] < 51

        watch.publish(f"{base}/relay1/set", "OFF")
        step_until(fleet, lambda: watch.on(f"{base}/relay1/state")[-1:] == [b"OFF"], what="relay OFF echo")
        assert node.board.pins[5] == 0
        off = step_until(fleet, lambda: [json.loads(p) for p in watch.on(f"{base}/state")[len(states) + 1:]], what="reading after OFF")
        assert off[-1]["power"] == 0  # the relay cuts the metered load

        node.fault("stuck_relay")  # a welded contact: the echo tells the truth
        watch.publish(f"{base}/relay1/set", "ON")
        step_until(fleet, lambda: len(watch.on(f"{base}/relay1/state")) >= 3, what="relay echo")
        assert watch.on(f"{base}/relay1/state")[-1] == b"OFF"

        fleet.fault(node.node_id, "offline")
        step_until(fleet, lambda: watch.on(f"{base}/status")[-1:] == [b"offline"], what="last will")
    finally:
        watch.close()


def test_offline_readings_are_replayed_with_their_times(mosquitto_server, make_fleet: Callable[..., Fleet]) -> None:
    start = int(time.time()) - 3600
    fleet = make_fleet(mosquitto_server.url, wall=stepping_wall(start))
    node = fleet.nodes[0]
    watch = Observer(mosquitto_server.url, f"devices/{node.node_id}/telemetry")
    try:
        step_until(fleet, lambda: node.node.connected, what="connect")
        fleet.fault(node.node_id, "offline")
        step_until(fleet, lambda: len(node.node.buffer) >= 5, what="five buffered readings")
        # A reboot while offline: the buffer is on flash.
        node.reboot()
        buffered = node.node.buffer.pending(100)[1]
        fleet.fault(node.node_id, "online")
        batches = step_until(fleet, lambda: watch.on(f"devices/{node.node_id}/telemetry"), what="telemetry batch")
    finally:
        watch.close()
    batch = json.loads(batches[0])
    assert batch["node_id"] == node.node_id
    stamps = [r["ts"] for r in batch["readings"]]
    assert stamps[:len(buffered)] == [r["ts"] for r in buffered]
    assert all(b - a == 10 for a, b in zip(stamps, stamps[1:], strict=False)) and stamps[0] >= start
    assert len(node.node.buffer) == 0


def test_ota_accepts_only_correctly_signed_images(mosquitto_server, make_fleet: Callable[..., Fleet]) -> None:
    master = bytes(range(32))
    fleet = make_fleet(mosquitto_server.url, ota_master=master)
    node = fleet.nodes[0]
    base = f"devices/{node.node_id}/ota"
    watch = Observer(mosquitto_server.url, f"{base}/status")
    image = pack([("VERSION", b"1.1.0\n")])

    def send(signature: str | None) -> dict[str, object]:
        seen = len(watch.on(f"{base}/status"))
        begin: dict[str, object] = {"size": len(image)}
        if signature is not None:
            begin["hmac"] = signature
        watch.publish(f"{base}/begin", json.dumps(begin))
        step_until(fleet, lambda: len(watch.on(f"{base}/status")) > seen, what="OTA status")
        if json.loads(watch.on(f"{base}/status")[-1])["state"] == "receiving":
            watch.publish(f"{base}/chunk", struct.pack(">I", 0) + image)
            step_until(fleet, lambda: len(watch.on(f"{base}/status")) > seen + 1, what="OTA result")
        return json.loads(watch.on(f"{base}/status")[-1])

    try:
        step_until(fleet, lambda: node.node.connected, what="connect")
        assert send(None) == {"state": "refused", "reason": "unsigned image"}
        assert send(sign(b"not this device's key", image)) == {"state": "refused", "reason": "bad signature"}
        assert send(sign(device_key(master, "another-node"), image))["reason"] == "bad signature"
        assert not (node.root / "VERSION").exists() and node.reboots == 0

        assert send(sign(device_key(master, node.node_id), image)) == {"state": "installed", "files": ["VERSION"]}
        assert (node.root / "VERSION").read_bytes() == b"1.1.0\n"
        assert node.reboots == 1
        step_until(fleet, lambda: node.node.connected, what="reconnect after the update")
    finally:
        watch.close()
