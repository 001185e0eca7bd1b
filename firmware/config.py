"""The node's settings, from a JSON file on flash (config.json), with defaults and checks.

Example:
    {"node_id": "kitchen-1", "name": "Kitchen",
     "wifi": {"ssid": "home", "password": "secret"},
     "mqtt": {"host": "192.168.1.10", "port": 1883, "user": "kitchen-1", "password": "..."},
     "topic_root": "",
     "pzem": {"uart": 2, "tx": 17, "rx": 16, "address": 248},
     "relays": [{"name": "relay1", "pin": 5, "inverted": false}],
     "telemetry_interval": 10, "ota_key": "<64 hex digits>"}
"""

from firmware.compat import json, unhexlify

DEFAULTS = {
    "name": None,
    "discovery_prefix": "homeassistant",
    "topic_root": "",  # what the node's topics hang under: "" (devices/<id>/...) or e.g. "home1/"
    "telemetry_interval": 10,
    "buffer_size": 512,
    "batch_size": 50,
    "ota_key": None,
    "wifi": {},
    "mqtt": {},
    "pzem": {},
    "relays": [],
}
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


class ConfigError(Exception):
    """The configuration file is missing a setting or has a wrong one (the message names it)."""


def check_topic_root(root):
    """Raise ConfigError unless root is "" or topic words each followed by "/"."""
    if root is None or root == "":
        return
    words = root[:-1].split("/") if isinstance(root, str) and root.endswith("/") else [""]
    for word in words:
        if not word or any(c not in _ID_CHARS + "." for c in word):
            raise ConfigError('topic_root must be "" or topic words of letters, digits, _, - or . each '
                              'followed by "/" (e.g. "home1/"), got %r' % (root,))


def load(path):
    """Return the validated settings dict from a JSON file."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError:
        raise ConfigError("cannot read %s" % path)
    except ValueError:
        raise ConfigError("%s is not valid JSON" % path)
    return validate(data)


def validate(data):
    """Return data with defaults filled in; raise ConfigError naming the first bad setting."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a JSON object")
    config = {}
    for key, value in DEFAULTS.items():
        config[key] = data.get(key, value)
    for key, value in data.items():
        config[key] = value
    node_id = config.get("node_id")
    if not node_id or not isinstance(node_id, str) or any(c not in _ID_CHARS for c in node_id):
        raise ConfigError("node_id is required and may hold only letters, digits, _ and -")
    if not config["name"]:
        config["name"] = node_id
    if config["topic_root"] is None:
        config["topic_root"] = ""
    check_topic_root(config["topic_root"])
    mqtt = config["mqtt"]
    if not isinstance(mqtt, dict) or not mqtt.get("host"):
        raise ConfigError("mqtt.host is required")
    mqtt.setdefault("port", 1883)
    mqtt.setdefault("keepalive", 30)
    fingerprint = mqtt.get("fingerprint")
    if fingerprint is not None:
        digits = fingerprint.replace(":", "") if isinstance(fingerprint, str) else ""
        if len(digits) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise ConfigError("mqtt.fingerprint must be the broker certificate's SHA-256: 64 hex digits, colons allowed")
    interval = config["telemetry_interval"]
    if not isinstance(interval, (int, float)) or interval <= 0:
        raise ConfigError("telemetry_interval must be a positive number of seconds")
    names = []
    for index, relay in enumerate(config["relays"]):
        if not isinstance(relay, dict) or not isinstance(relay.get("pin"), int):
            raise ConfigError("relays[%d].pin must be a GPIO number" % index)
        name = relay.setdefault("name", "relay%d" % (index + 1))
        if any(c not in _ID_CHARS for c in name) or name in names or name in ("ota", "status", "state", "telemetry", "restart", "config"):
            raise ConfigError("relays[%d].name %r is not a free topic word" % (index, name))
        names.append(name)
    key = config["ota_key"]
    if key:
        try:
            config["ota_key"] = unhexlify(key)
        except ValueError:
            raise ConfigError("ota_key must be hex")
        if len(config["ota_key"]) < 16:
            raise ConfigError("ota_key must be at least 16 bytes (32 hex digits)")
    return config
