"""Home Assistant MQTT discovery payloads for the meter's sensors and the relays.

Abbreviated keys and a `~` base topic keep each payload small (ESP8266 RAM is tight), as
Tasmota and ESPHome do. All sensors read one JSON state topic through value templates.
"""

from firmware import VERSION, topics
from firmware.compat import json

# key, name, unit, device class, state class, display precision
SENSORS = (
    ("power", "Power", "W", "power", "measurement", 1),
    ("energy", "Energy", "kWh", "energy", "total_increasing", 3),
    ("voltage", "Voltage", "V", "voltage", "measurement", 1),
    ("current", "Current", "A", "current", "measurement", 3),
    ("frequency", "Frequency", "Hz", "frequency", "measurement", 1),
    ("power_factor", "Power factor", None, "power_factor", "measurement", 2),
)


def device_block(config):
    """Return the abbreviated device block shared by all of the node's entities."""
    return {
        "ids": [config["node_id"]],
        "name": config["name"],
        "mf": "powerhub",
        "mdl": "PZEM-004T v3 node",
        "sw": VERSION,
    }


def _common(config, object_id, name):
    node_id = config["node_id"]
    return {
        "~": topics.base(node_id, config["topic_root"]),
        "name": name,
        "uniq_id": node_id + "_" + object_id,
        "obj_id": node_id.replace("-", "_") + "_" + object_id,
        "avty_t": "~/status",
        "dev": device_block(config),
    }


def messages(config):
    """Yield (topic, payload) for every discovery config of this node."""
    prefix = config["discovery_prefix"]
    node_id = config["node_id"]
    for key, name, unit, device_class, state_class, precision in SENSORS:
        payload = _common(config, key, name)
        payload["stat_t"] = "~/state"
        payload["val_tpl"] = "{{ value_json.%s }}" % key
        payload["dev_cla"] = device_class
        payload["stat_cla"] = state_class
        payload["sug_dsp_prc"] = precision
        if unit:
            payload["unit_of_meas"] = unit
        yield topics.discovery(prefix, "sensor", node_id, key), json.dumps(payload)
    for relay in config["relays"]:
        name = relay["name"]
        payload = _common(config, name, relay.get("label") or name)
        payload["cmd_t"] = "~/" + name + "/set"
        payload["stat_t"] = "~/" + name + "/state"
        payload["pl_on"] = "ON"
        payload["pl_off"] = "OFF"
        yield topics.discovery(prefix, "switch", node_id, name), json.dumps(payload)
    payload = _common(config, "restart", "Restart")
    payload["cmd_t"] = "~/restart/set"
    payload["dev_cla"] = "restart"
    payload["ent_cat"] = "config"
    yield topics.discovery(prefix, "button", node_id, "restart"), json.dumps(payload)
