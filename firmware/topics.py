"""The node's MQTT topic map (one place, so firmware, simulator and docs agree).

Every topic of a node hangs under `<root>devices/<node_id>`; the root is config.json's
`topic_root` ("" by default, so a node without it keeps `devices/<node_id>`; "home1/" gives
`home1/devices/<node_id>`), what the hub's `mqtt: topic_root:` setting gave it.
"""


def base(node_id, root=""):
    """Return the node's topic base `<root>devices/<node_id>`."""
    return root + "devices/" + node_id


def status(node_id, root=""):
    """Availability: `online` (retained) on connect, `offline` as the last will."""
    return base(node_id, root) + "/status"


def state(node_id, root=""):
    """Live readings, one JSON object per telemetry interval."""
    return base(node_id, root) + "/state"


def telemetry(node_id, root=""):
    """Batches of readings taken while offline: {"node_id", "readings": [{"ts", ...}]}."""
    return base(node_id, root) + "/telemetry"


def relay_set(node_id, relay, root=""):
    """Relay commands: ON, OFF, TOGGLE."""
    return base(node_id, root) + "/" + relay + "/set"


def relay_state(node_id, relay, root=""):
    """Relay state (retained), published after each command as its acknowledgement."""
    return base(node_id, root) + "/" + relay + "/state"


def restart(node_id, root=""):
    """PRESS restarts the node (the discovery button `restart`)."""
    return base(node_id, root) + "/restart/set"


def config_set(node_id, root=""):
    """Settings from the hub (retained): {"id", "values": {key: value}}."""
    return base(node_id, root) + "/config/set"


def config_state(node_id, root=""):
    """The node's settings, their declaration and the last applied message (retained)."""
    return base(node_id, root) + "/config/state"


def ota(node_id, what, root=""):
    """OTA topics: begin, chunk (in), status (out)."""
    return base(node_id, root) + "/ota/" + what


def discovery(prefix, component, node_id, object_id):
    """Home Assistant discovery config topic (under the discovery prefix, not the root)."""
    return "%s/%s/%s/%s/config" % (prefix, component, node_id, object_id)
