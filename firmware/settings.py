"""Settings the hub may change at run time: their declaration, checks, and the file that keeps them.

The node announces on `devices/<id>/config/state` (retained):
    {"declared": {key: {"type": "int"|"float"|"bool"|"string"|"enum", "min", "max", "options",
                        "max_length", "unit", "description"}},
     "values": {key: value}, "applied": <id of the last config message applied, or null>,
     "refused": <id of a refused one, or absent>, "reason": <why, or absent>}
and takes `devices/<id>/config/set` (retained, from the hub): {"id": "...", "values": {key: value}}.
A message is applied whole or not at all; applied values survive reboots (settings.json on flash).
"""

from firmware.compat import json

DECLARED = {
    "telemetry_interval": {"type": "float", "min": 0.1, "max": 3600, "unit": "s",
                           "description": "Seconds between two readings"},
    "batch_size": {"type": "int", "min": 1, "max": 500,
                   "description": "Readings per message when replaying what was kept offline"},
    "name": {"type": "string", "max_length": 64, "description": "The name the node announces"},
    "power_on_state": {"type": "enum", "options": ["restore", "off", "on"],
                       "description": "Relays after a power cut: as they were, or always off, or always on"},
}
DEFAULTS = {"power_on_state": "restore"}


class SettingError(ValueError):
    """A value the node refuses (the message names the key and what was expected)."""


def check(key, value):
    """Return the value as the node keeps it, or raise SettingError naming the key."""
    spec = DECLARED.get(key)
    if spec is None:
        raise SettingError("unknown setting %r" % key)
    kind = spec["type"]
    if kind == "bool":
        if not isinstance(value, bool):
            raise SettingError("%s must be true or false" % key)
        return value
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and value != int(value)):
            raise SettingError("%s must be a%s number" % (key, " whole" if kind == "int" else ""))
        value = int(value) if kind == "int" else float(value)
        if value < spec.get("min", value) or value > spec.get("max", value):
            raise SettingError("%s must be from %s to %s" % (key, spec["min"], spec["max"]))
        return value
    if not isinstance(value, str):
        raise SettingError("%s must be text" % key)
    if kind == "enum" and value not in spec["options"]:
        raise SettingError("%s must be one of %s" % (key, ", ".join(spec["options"])))
    if len(value) > spec.get("max_length", 255):
        raise SettingError("%s must be at most %d characters" % (key, spec["max_length"]))
    return value


def values(config):
    """Return the current value of every declared setting."""
    result = {}
    for key in DECLARED:
        result[key] = config.get(key, DEFAULTS.get(key))
    return result


def state(config, applied=None, refused=None, reason=None):
    """Return the config/state payload (JSON text)."""
    payload = {"declared": DECLARED, "values": values(config), "applied": applied}
    if refused is not None:
        payload["refused"] = refused
        payload["reason"] = reason
    return json.dumps(payload)


def load(path):
    """Return the saved values (empty on first boot or a torn file); unknown or bad ones are skipped."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    saved = {}
    for key, value in (data.get("values", {}) if isinstance(data, dict) else {}).items():
        try:
            saved[key] = check(key, value)
        except SettingError:
            pass
    if isinstance(data, dict) and isinstance(data.get("applied"), str):
        saved["_applied"] = data["applied"]
    return saved


def save(path, config, applied):
    """Write the current values and the applied message's id (atomically: temp file, rename)."""
    from firmware.compat import os

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"values": values(config), "applied": applied}, f)
    os.rename(tmp, path)
