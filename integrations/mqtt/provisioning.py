"""Devices registered for the broker: their credentials and the topics each kind may use.

One record per device in `secrets/mqtt_devices.json` in the data dir (0600): the username, the
password's salted PBKDF2-SHA512 hash (the format of Mosquitto's dynamic-security plugin and of
`mosquitto_passwd`, so one hash serves the embedded broker and an exported password file), and
the topics it may publish and subscribe to. The hub's own broker account lives in
`secrets/mqtt_hub.json` (its password in clear: the hub must log in with it).

All device topics hang under one topic root (`mqtt: topic_root:`, "" by default, e.g. "home1/";
see topic_root.py): several homes on one broker each get their own, while the device-side topic
format below it stays what it is. Each device keeps the root it was given: its firmware or
settings use it until the device is added again.

Broker accounts are the broker's, not a home's: when many homes share one broker (docs/homes.md)
a device's username and client id carry its home, `<tenant>.<home>.<node_id>` (account_prefix),
so node `kitchen` can exist in every home. A single-home hub names accounts by the node id alone,
as it always has; an account keeps the name it was given (devices added before keep working).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.exceptions import HubError
from hub.storage.private_files import write_private

KINDS = ("powerhub", "tasmota", "esphome", "zigbee2mqtt", "generic")
HUB_USERNAME = "powerhub-hub"
HUB_ROLE = "powerhub-hub"
ITERATIONS = 101  # what mosquitto_passwd and the dynamic-security plugin use
_NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def account_prefix(scope: HomeScope) -> str:
    """Return what a device's broker username starts with in this home: "" in a single-home hub,
    `<tenant>.<home>.` in a home of a multi-home hub (ids are lower-case words without ".", node
    ids have no ".", so the name is unambiguous)."""
    return "" if scope == DEFAULT_SCOPE else f"{scope.tenant_id}.{scope.home_id}."


class ProvisioningError(HubError):
    """A device cannot be registered as asked (the message says which field and why)."""


@dataclass(slots=True)
class Acl:
    """The topic filters a device may publish to and subscribe to."""

    publish: list[str]
    subscribe: list[str]


def device_acl(kind: str, node_id: str, discovery_prefix: str = "homeassistant", root: str = "") -> Acl:
    """Return what a device of this kind may use: its own state, availability and discovery topics
    to publish, its own command topics (and the hub's birth message) to subscribe to.

    Args:
        kind: one of KINDS.
        node_id: the device's id; for Tasmota its topic, for Zigbee2MQTT its base topic.
        discovery_prefix: the hub's discovery prefix.
        root: the topic root every device topic hangs under ("" or "<home>/").
    """
    prefix = discovery_prefix
    birth = f"{prefix}/status"
    if kind == "powerhub":
        own = f"{root}devices/{node_id}"
        return Acl([f"{own}/#", f"{prefix}/+/{node_id}/+/config"],
                   [f"{own}/+/set", f"{own}/ota/begin", f"{own}/ota/chunk", birth])
    if kind == "tasmota":
        # Tasmota names its discovery topics after its chip id (`<prefix>/switch/1A2B3C_RL_1/config`),
        # which is unknown here: it may write two-level config topics, never a node's own.
        return Acl([f"{root}tele/{node_id}/#", f"{root}stat/{node_id}/#", f"{prefix}/+/+/config"],
                   [f"{root}cmnd/{node_id}/#", f"{root}cmnd/tasmotas/#", birth])
    if kind in ("esphome", "generic"):
        own = f"{root}{node_id}"
        return Acl([f"{own}/#", f"{prefix}/+/{node_id}/+/config", f"{prefix}/+/{node_id}/config"], [f"{own}/#", birth])
    if kind == "zigbee2mqtt":
        # A bridge announces devices it names by their IEEE address: it needs the whole prefix.
        own = f"{root}{node_id}"
        return Acl([f"{own}/#", f"{prefix}/#"], [f"{own}/#", birth])
    message = f"kind must be one of {', '.join(KINDS)}, got {kind!r}"
    raise ProvisioningError(message)


def hash_password(password: str, salt: bytes | None = None) -> tuple[str, str]:
    """Return (hash, salt), both base64, as Mosquitto's PBKDF2-SHA512 with 101 iterations."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return base64.b64encode(digest).decode(), base64.b64encode(salt).decode()


def new_password() -> str:
    """Return a password of 128 random bits that is easy to type into a device's web page."""
    return secrets.token_urlsafe(16)


@dataclass(slots=True)
class DeviceCredentials:
    """A provisioned device: who it is, how it logs in, what it may use."""

    node_id: str
    name: str
    kind: str
    location: str | None
    device_id: str | None  # the device registry's id
    username: str
    password_hash: str
    salt: str
    publish: list[str] = field(default_factory=list)
    subscribe: list[str] = field(default_factory=list)
    topic_root: str = ""  # what its topics hang under (records from before the setting have "")

    @property
    def role(self) -> str:
        """The broker role that holds this device's ACLs."""
        return f"device-{self.username}"


class DeviceStore:
    """The provisioned devices of one data dir, saved whole on every change."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "secrets" / "mqtt_devices.json"
        self.hub_path = data_dir / "secrets" / "mqtt_hub.json"
        self.devices: dict[str, DeviceCredentials] = {}
        self.load()

    def load(self) -> None:
        """Read the file (a missing file is an empty store)."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return
        except ValueError as err:
            message = f"{self.path} is not valid JSON ({err}); restore it from a backup or remove it"
            raise HubError(message) from err
        self.devices = {d["node_id"]: DeviceCredentials(**d) for d in data.get("devices", [])}

    def save(self) -> None:
        """Write the store atomically, 0600."""
        data = {"devices": [asdict(d) for d in sorted(self.devices.values(), key=lambda d: d.node_id)]}
        write_private(self.path, json.dumps(data, indent=1).encode())

    def hub_password(self) -> str:
        """Return the hub's own broker password, made on first use."""
        try:
            return str(json.loads(self.hub_path.read_text())["password"])
        except (FileNotFoundError, KeyError, ValueError):
            password = new_password()
            write_private(self.hub_path, json.dumps({"username": HUB_USERNAME, "password": password}).encode())
            return password

    def check(self, node_id: Any, name: Any, kind: Any, location: Any = None) -> None:
        """Raise ProvisioningError naming the first field that is wrong, or a node id that is taken."""
        self.load()  # `hub device add` may have changed the file beside the running hub
        if not isinstance(node_id, str) or not _NODE_ID.match(node_id):
            message = f"node_id must be 1-64 letters, digits, _ or -, got {node_id!r}"
            raise ProvisioningError(message)
        if node_id in self.devices or node_id == HUB_USERNAME:
            message = f"a device with node_id {node_id!r} exists already; delete it first"
            raise ProvisioningError(message)
        if kind not in KINDS:
            message = f"kind must be one of {', '.join(KINDS)}, got {kind!r}"
            raise ProvisioningError(message)
        if name is not None and not isinstance(name, str):
            message = f"name must be a string, got {name!r}"
            raise ProvisioningError(message)
        if location is not None and not isinstance(location, str):
            message = f"location must be a string, got {location!r}"
            raise ProvisioningError(message)

    def add(self, node_id: Any, name: Any, kind: Any, location: Any = None, discovery_prefix: str = "homeassistant",
            device_id: str | None = None, root: str = "", prefix: str = "") -> tuple[DeviceCredentials, str]:
        """Register a device under a topic root; return it and its password (in clear this once only).

        Its broker username is `prefix + node_id` (see account_prefix).

        Raises:
            ProvisioningError: a field is missing or wrong, or the node id is taken.
        """
        self.check(node_id, name, kind, location)
        acl = device_acl(kind, node_id, discovery_prefix, root)
        password = new_password()
        hashed, salt = hash_password(password)
        device = DeviceCredentials(node_id, name or node_id, kind, location, device_id, prefix + node_id, hashed, salt,
                                   acl.publish, acl.subscribe, root)
        self.devices[node_id] = device
        self.save()
        return device, password

    def remove(self, node_id: str) -> DeviceCredentials | None:
        """Forget a device; return it, None when unknown."""
        self.load()
        device = self.devices.pop(node_id, None)
        if device is not None:
            self.save()
        return device

    def by_device_id(self, device_id: str) -> DeviceCredentials | None:
        """Return the device registered with this device registry id or node id."""
        self.load()
        for device in self.devices.values():
            if device_id in (device.device_id, device.node_id):
                return device
        return None


def device_acls(device: DeviceCredentials) -> list[dict[str, Any]]:
    """Return a device's ACLs in the dynamic-security plugin's form."""
    acls: list[dict[str, Any]] = [{"acltype": "publishClientSend", "topic": t, "allow": True} for t in device.publish]
    acls += [{"acltype": "subscribePattern", "topic": t, "allow": True} for t in device.subscribe]
    return acls


HUB_ACLS: list[dict[str, Any]] = [
    {"acltype": acltype, "topic": topic, "allow": True}
    for topic in ("#", "$CONTROL/dynamic-security/#", "$SYS/#")
    for acltype in ("publishClientSend", "publishClientReceive", "subscribePattern", "unsubscribePattern")
]


def dynamic_security(store: DeviceStore, devices: Iterable[DeviceCredentials] | None = None) -> dict[str, Any]:
    """Return the dynamic-security plugin's whole configuration: the hub with full access, each
    device with its own role, and nothing for anybody else.

    `devices`: these instead of the store's (every home's, in a hub of many); the hub's account is the store's.
    """
    hub_hash, hub_salt = hash_password(store.hub_password())
    clients = [{"username": HUB_USERNAME, "textName": "powerhub", "password": hub_hash, "salt": hub_salt,
                "iterations": ITERATIONS, "roles": [{"rolename": HUB_ROLE}]}]
    roles = [{"rolename": HUB_ROLE, "acls": HUB_ACLS}]
    for device in sorted(store.devices.values() if devices is None else devices, key=lambda d: d.node_id):
        clients.append({"username": device.username, "textName": device.name, "password": device.password_hash,
                        "salt": device.salt, "iterations": ITERATIONS, "roles": [{"rolename": device.role}]})
        roles.append({"rolename": device.role, "acls": device_acls(device)})
    return {
        "clients": clients,
        "groups": [],
        "roles": roles,
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": True,
                             "subscribe": False, "unsubscribe": True},
    }


def password_file(store: DeviceStore, hub_username: str = HUB_USERNAME,
                  devices: Iterable[DeviceCredentials] | None = None) -> str:
    """Return a Mosquitto password file (`user:$7$101$salt$hash`) for the hub and every device (`devices`
    instead of the store's, as for dynamic_security)."""
    hub_hash, hub_salt = hash_password(store.hub_password())
    lines = [f"{hub_username}:$7${ITERATIONS}${hub_salt}${hub_hash}"]
    listed = store.devices.values() if devices is None else devices
    lines += [f"{d.username}:$7${ITERATIONS}${d.salt}${d.password_hash}" for d in listed]
    return "\n".join(lines) + "\n"


def acl_file(store: DeviceStore, hub_username: str = HUB_USERNAME,
             sections: Iterable[tuple[str, Iterable[DeviceCredentials]]] | None = None) -> str:
    """Return a Mosquitto ACL file: the hub reads and writes everything, each device its own topics.

    `sections`: (a comment line, devices) for each home of a hub of many, instead of the store's devices.
    """
    lines = [f"user {hub_username}", "topic readwrite #", ""]
    for comment, devices in [("", store.devices.values())] if sections is None else sections:
        if comment:
            lines += [f"# {comment}", ""]
        for device in sorted(devices, key=lambda d: d.node_id):
            lines.append(f"user {device.username}")
            # An ACL file cannot tell publishing from subscribing per pattern more finely than this.
            reads = set(device.subscribe)
            writes = set(device.publish)
            lines += [f"topic readwrite {t}" for t in sorted(reads & writes)]
            lines += [f"topic write {t}" for t in sorted(writes - reads)]
            lines += [f"topic read {t}" for t in sorted(reads - writes)]
            lines.append("")
    return "\n".join(lines)
