"""Register and revoke devices on the hub's broker, and tell each device how to connect.

Used by `POST/DELETE /api/v1/devices` (integrations/mqtt/devices_http.py) and by the
`hub device add` command (which works on the data dir while the hub is stopped; the broker
picks the device up when it starts).
"""

from __future__ import annotations

import logging
from typing import Any

from hub.exceptions import HubError
from integrations.mqtt import dynsec
from integrations.mqtt.broker import EmbeddedBroker, lan_address
from integrations.mqtt.client import ConnectionSettings
from integrations.mqtt.provisioning import HUB_USERNAME, DeviceCredentials, DeviceStore

_LOGGER = logging.getLogger(__name__)


class Provisioner:
    """Devices' broker accounts for one hub: the store, and the running broker to tell at once."""

    def __init__(self, store: DeviceStore, broker: EmbeddedBroker | None, discovery_prefix: str,
                 host: str | None = None, endpoint: dict[str, Any] | None = None, root: str = "",
                 admin: tuple[str, str] | None = None, account_prefix: str = "") -> None:
        self.store = store
        # What new devices' broker usernames start with: "" for one home, `<tenant>.<home>.` for a
        # home of a multi-home hub (provisioning.account_prefix), so accounts never collide.
        self.account_prefix = account_prefix
        # The account that changes the broker's clients: the hub's own on the embedded broker, the
        # configured one (mqtt: username, password) on a user's own Mosquitto.
        self.admin = admin
        self.broker = broker
        self.discovery_prefix = discovery_prefix
        self.root = root  # `mqtt: topic_root:`: what new devices' topics hang under
        self.host = host or lan_address()
        # Where the broker listens when it is not ours to ask (`hub device add`, an external broker).
        self._endpoint = endpoint or {}
        self.offline = False  # the broker is known to be stopped: it loads the store when it starts

    @property
    def endpoint(self) -> dict[str, Any]:
        """Return the broker's host, port, TLS port and fingerprints ({} when unknown)."""
        return self.broker.endpoint() if self.broker is not None else self._endpoint

    def _live(self) -> bool:
        if self.offline:
            return False
        if self.broker is not None:
            return self.broker.running and self.broker.secured
        return bool(self._endpoint.get("secured"))

    async def add(self, node_id: Any, name: Any, kind: Any, location: Any = None,
                  device_id: str | None = None) -> dict[str, Any]:
        """Register a device and return its MQTT configuration, password included (this once).

        Raises:
            ProvisioningError: a field is wrong or the node id is taken.
            HubError: the running broker refused the new account (the device is not kept).
        """
        device, password = self.store.add(node_id, name, kind, location, self.discovery_prefix, device_id, self.root,
                                          self.account_prefix)
        if self._live():
            try:
                await self._control(dynsec.add_commands(device, password))
            except HubError:
                self.store.remove(device.node_id)
                raise
        return self.configuration(device, password)

    async def remove(self, device: DeviceCredentials) -> None:
        """Revoke a device's account at once: the broker forgets it and disconnects it.

        Raises:
            HubError: the running broker did not take the change; the device is kept, so that
                removing it again can finish the job.
        """
        if self._live():
            try:
                await self._control(dynsec.remove_commands(device))
            except HubError as err:
                if "not found" not in str(err).lower():  # the broker never had it: nothing to revoke
                    raise
        self.store.remove(device.node_id)

    async def _control(self, commands: list[dict[str, Any]]) -> None:
        endpoint = self.endpoint
        username, password = self.admin or (HUB_USERNAME, self.store.hub_password())
        await dynsec.send(endpoint["host"], endpoint["port"], username, password, commands)

    def configuration(self, device: DeviceCredentials, password: str) -> dict[str, Any]:
        """Return what a device needs to connect: host, ports, TLS fingerprints, account, topics."""
        endpoint = self.endpoint
        mqtt: dict[str, Any] = {
            "host": self.host,
            "port": endpoint.get("device_port") or endpoint.get("port", 1883),
            "tls_port": endpoint.get("tls_port"),
            "ca_fingerprint": endpoint.get("ca_fingerprint"),
            "fingerprint": endpoint.get("fingerprint"),
            "username": device.username,
            "password": password,
            # The broker's client ids are as global as its usernames: the username is unique there.
            "client_id": device.username,
        }
        return {
            "id": device.device_id or device.node_id,
            "node_id": device.node_id,
            "name": device.name,
            "location": device.location,
            "kind": device.kind,
            "mqtt": mqtt,
            "topic_root": device.topic_root,
            "topics": {"publish": device.publish, "subscribe": device.subscribe},
            "setup": setup_for(device, mqtt, self.discovery_prefix),
        }


def own_broker_provisioner(config: dict[str, Any], settings: ConnectionSettings, store: DeviceStore,
                           host: str | None = None, account_prefix: str = "") -> Provisioner | None:
    """Return the provisioner of a user's own Mosquitto that the hub administers through its
    dynamic-security plugin with its own account (`mqtt: provisioning:`), None without it.

    Raises:
        HubError: the hub's account (mqtt: username, password) is not configured.
    """
    devices_side = config.get("provisioning")
    if devices_side is None:
        return None
    if not settings.username or not settings.password:
        message = ("mqtt.provisioning needs mqtt.username and mqtt.password: the hub's own account on the broker, "
                   "which administers its dynamic-security plugin (see docs/mqtt.md, \"Your own broker\")")
        raise HubError(message)
    endpoint = {"host": settings.host, "port": settings.port, "secured": True,
                "device_port": devices_side.get("port") or settings.port}
    return Provisioner(store, None, config["discovery_prefix"], host or devices_side["host"], endpoint,
                       config["topic_root"], admin=(settings.username, settings.password), account_prefix=account_prefix)


def firmware_config(device: DeviceCredentials, mqtt: dict[str, Any], discovery_prefix: str) -> dict[str, Any]:
    """Return config.json for our firmware: the node connects over TLS when the broker offers it."""
    connection: dict[str, Any] = {"host": mqtt["host"], "user": mqtt["username"], "password": mqtt["password"]}
    if mqtt.get("tls_port") and mqtt.get("fingerprint"):
        connection.update(port=mqtt["tls_port"], ssl=True, fingerprint=mqtt["fingerprint"])
    else:
        connection["port"] = mqtt["port"]
    if mqtt["client_id"] != device.node_id:  # a home's device on a shared broker (account_prefix)
        connection["client_id"] = mqtt["client_id"]
    return {
        "node_id": device.node_id,
        "name": device.name,
        "discovery_prefix": discovery_prefix,
        "topic_root": device.topic_root,
        "wifi": {"ssid": "", "password": ""},
        "mqtt": connection,
        "pzem": {"uart": 2, "tx": 17, "rx": 16},
        "relays": [{"name": "relay1", "pin": 5}],
    }


def setup_for(device: DeviceCredentials, mqtt: dict[str, Any], discovery_prefix: str) -> dict[str, Any]:
    """Return the settings to type into the device, in the form its kind uses."""
    host, port, user, password = mqtt["host"], mqtt["port"], mqtt["username"], mqtt["password"]
    own = device.topic_root + device.node_id  # ESPHome's topic prefix, a Zigbee2MQTT base topic
    # A home's device on a shared broker has a client id of its own (its username); alone, the
    # device's default (its topic / node id) stands, as before.
    shared = mqtt["client_id"] != device.node_id
    if device.kind == "powerhub":
        return {"config.json": firmware_config(device, mqtt, discovery_prefix)}
    if device.kind == "tasmota":
        return {"console": [
            f"Backlog MqttHost {host}; MqttPort {port}; MqttUser {user}; MqttPassword {password}; "
            f"Topic {device.node_id}; FullTopic {device.topic_root}%prefix%/%topic%/; SetOption19 1"
            + (f"; MqttClient {mqtt['client_id']}" if shared else ""),
        ]}
    if device.kind == "esphome":
        return {"yaml": (
            "mqtt:\n"
            f"  broker: {host}\n  port: {port}\n  username: {user}\n  password: {password}\n"
            f"  client_id: {mqtt['client_id']}\n  topic_prefix: {own}\n"
            f"  discovery: true\n  discovery_prefix: {discovery_prefix}\n"
        )}
    if device.kind == "zigbee2mqtt":
        return {"yaml": (
            "mqtt:\n"
            f"  server: mqtt://{host}:{port}\n  user: {user}\n  password: {password}\n"
            f"  base_topic: {own}\n" + (f"  client_id: {mqtt['client_id']}\n" if shared else "")
            + f"homeassistant:\n  enabled: true\n  discovery_topic: {discovery_prefix}\n"
        )}
    return {"settings": {"host": host, "port": port, "username": user, "password": password,
                         "client_id": mqtt["client_id"], "topics": f"{own}/#"}}
