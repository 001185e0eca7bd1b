"""The node's MQTT topic map (one place, so firmware, simulator and docs agree)."""


def base(node_id):
    """Return the node's topic root `devices/<node_id>`."""
    return "devices/" + node_id


def status(node_id):
    """Availability: `online` (retained) on connect, `offline` as the last will."""
    return base(node_id) + "/status"


def state(node_id):
    """Live readings, one JSON object per telemetry interval."""
    return base(node_id) + "/state"


def telemetry(node_id):
    """Batches of readings taken while offline: {"node_id", "readings": [{"ts", ...}]}."""
    return base(node_id) + "/telemetry"


def relay_set(node_id, relay):
    """Relay commands: ON, OFF, TOGGLE."""
    return base(node_id) + "/" + relay + "/set"


def relay_state(node_id, relay):
    """Relay state (retained), published after each command as its acknowledgement."""
    return base(node_id) + "/" + relay + "/state"


def restart(node_id):
    """PRESS restarts the node (the discovery button `restart`)."""
    return base(node_id) + "/restart/set"


def config_set(node_id):
    """Settings from the hub (retained): {"id", "values": {key: value}}."""
    return base(node_id) + "/config/set"


def config_state(node_id):
    """The node's settings, their declaration and the last applied message (retained)."""
    return base(node_id) + "/config/state"


def ota(node_id, what):
    """OTA topics: begin, chunk (in), status (out)."""
    return base(node_id) + "/ota/" + what


def discovery(prefix, component, node_id, object_id):
    """Home Assistant discovery config topic."""
    return "%s/%s/%s/%s/config" % (prefix, component, node_id, object_id)
