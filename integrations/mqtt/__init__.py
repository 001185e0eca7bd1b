"""MQTT: Home Assistant discovery, availability, commands, persisted rediscovery, embedded broker.

    mqtt:                       # embedded broker on 127.0.0.1:1883
    mqtt:
      broker: mqtts://broker.lan:8883
      username: hub
      password: !secret mqtt_password
      certificate: /etc/ssl/ca.pem
      client: gmqtt             # or paho: the MQTT library used (same behaviour)

Other integrations use the hub's MQTT connection through `api(hub)` (an `MqttApi`: subscribe,
publish, connection state, broker address) and nothing else of this package's runtime; see
docs/integrations.md, "Use MQTT from another integration".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub import hookimpl
from hub.core.hub import Hub
from hub.core.runtime import HubKey
from hub.core.scope import DEFAULT_SCOPE
from hub.exceptions import HubError
from hub.homes.roots import TOPIC_ROOTS
from hub.hookspecs import LEAVING_REMOVED, LEAVING_STOPPING
from hub.tenancy import limits
from integrations.mqtt import dynsec, shared
from integrations.mqtt import status as ops_status
from integrations.mqtt.broker import EmbeddedBroker, check_lan_settings
from integrations.mqtt.cache import DiscoveryStore
from integrations.mqtt.client import MqttClient
from integrations.mqtt.config import CONFIG_SCHEMA, connection_settings
from integrations.mqtt.controls import MqttSwitch
from integrations.mqtt.device_trigger import attach as attach_device_trigger
from integrations.mqtt.discovery import Discovery
from integrations.mqtt.provisioner import Provisioner, own_broker_provisioner
from integrations.mqtt.provisioning import DeviceStore, account_prefix
from integrations.mqtt.runtime_api import Broker, MqttApi
from integrations.mqtt.sensors import BrokerConnectedSensor, EmbeddedBrokerSensor
from integrations.mqtt.services import register_services
from integrations.mqtt.subscriptions import Message
from integrations.mqtt.trigger import attach as attach_trigger
from integrations.mqtt.trigger import bind_pending

if TYPE_CHECKING:
    from prometheus_client.core import Metric

__all__ = ["CONFIG_SCHEMA", "Broker", "Message", "MqttApi", "MqttSwitch", "api", "detach"]

_LOGGER = logging.getLogger(__name__)

# Give the first connection this long in the sources stage; the hub runs on without the broker
# if it is not there yet.
FIRST_CONNECT_WAIT = 2.0


@dataclass(slots=True)
class MqttRuntime:
    """What the integration runs for one hub (its own; other integrations use `api`)."""

    client: MqttClient
    api: MqttApi
    discovery: Discovery | None
    store: DiscoveryStore | None
    broker: EmbeddedBroker | None
    status: BrokerConnectedSensor
    provisioner: Provisioner


MQTT: HubKey[MqttRuntime] = HubKey("mqtt")


def __getattr__(name: str) -> Any:
    """`run_device_command` and `run_export_acl` (what `hub device`/`hub mqtt` run), imported when asked for."""
    if name in ("run_device_command", "run_export_acl"):
        from integrations.mqtt import cli

        return getattr(cli, name)
    message = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(message)


def api(hub: Hub) -> MqttApi | None:
    """Return the hub's MQTT connection for another integration, None when MQTT is not set up.

    An integration that needs it lists `mqtt` in its manifest's `dependencies`, so the
    connection exists by the time its own setup runs.
    """
    runtime = hub.runtime.get(MQTT)
    return None if runtime is None else runtime.api


def runtime_of(hub: Hub) -> MqttRuntime | None:
    """Return everything the MQTT integration runs for a hub (for this package and its tests)."""
    return hub.runtime.get(MQTT)


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Start the broker if needed and recreate cached entities; connect later, in connect_sources."""
    config = CONFIG_SCHEMA(config)
    data_dir = hub.config.data_dir or Path.cwd()
    broker: EmbeddedBroker | None = None
    url = config.get("broker")
    devices = DeviceStore(Path(data_dir))
    embedded = config["embedded"]
    if url is None:
        check_lan_settings(embedded)
        own_tls = {k: embedded[k] for k in ("certificate", "key", "ca_certificate")} if "certificate" in embedded else None
        broker = EmbeddedBroker(Path(data_dir), embedded["port"], embedded["engine"], embedded["bind"],
                                embedded["tls_port"], devices, own_tls)
        await broker.start()
        url = broker.url
        credentials = broker.hub_credentials()
        if credentials is not None:
            config = {**config, "username": credentials[0], "password": credentials[1]}
    settings = connection_settings(config, url, data_dir)
    root = config["topic_root"]
    prefix = account_prefix(hub.config.scope)
    provisioner = (own_broker_provisioner(config, settings, devices, account_prefix=prefix) if broker is None else None
                   ) or Provisioner(devices, broker, config["discovery_prefix"], embedded.get("host"), root=root,
                                    account_prefix=prefix)
    _warn_other_roots(devices, root)
    status = BrokerConnectedSensor(f"{settings.host}:{settings.port}")
    # QoS 1/2 messages are acknowledged once what they wrote is durable (the recorder's spool).
    client: MqttClient
    if hub.config.scope == DEFAULT_SCOPE:
        client = MqttClient(settings, status.set_connected, durable=hub.durability.wait)
    else:
        # A home of many: the process's one connection, held to its own topics (docs/homes.md).
        client = shared.home_client(settings, root, Path(data_dir).parent.parent, config.get("client_id"),
                                    status.set_connected, hub.durability.wait, hub.runtime.get(TOPIC_ROOTS),
                                    home=hub.config.scope.home_id, folder=Path(data_dir))
    client.admit = limits.message_gate(hub, config["discovery_prefix"])  # the home's plan rate, if any
    store = DiscoveryStore(hub.db) if hub.db is not None else None
    discovery = Discovery(hub, client, config["discovery_prefix"], store) if config["discovery"] else None
    runtime = MqttRuntime(client, MqttApi(client, config["discovery_prefix"], store, root), discovery, store, broker, status,
                          provisioner)
    hub.runtime[MQTT] = runtime
    hub.on_stop(lambda: _stop(hub, runtime))
    await hub.entities.add(status, "mqtt")
    if broker is not None:
        await _watch_broker(hub, broker, client)
    elif provisioner.admin is not None:
        _grant_on_connect(hub, client, provisioner)
    register_services(hub, client, config["discovery_prefix"])
    bind_pending(hub, client)
    if discovery is not None:
        discovery.start()
        restored = await discovery.load_cached()
        if restored:
            _LOGGER.info("Recreated %d discovered entities from the discovery cache", restored)


@hookimpl
async def connect_sources(hub: Hub) -> Callable[[], Awaitable[None]] | None:
    """Connect to the broker, now that the recorder, automations and the API listen."""
    runtime = runtime_of(hub)
    if runtime is None:
        return None
    client = runtime.client
    await client.start()
    if not await client.wait_connected(FIRST_CONNECT_WAIT):
        settings = client.settings
        _LOGGER.warning("MQTT broker %s:%s not reachable yet; the hub runs on and keeps trying", settings.host, settings.port)
    return client.stop


def _grant_on_connect(hub: Hub, client: MqttClient, provisioner: Provisioner) -> None:
    """Make sure, at every connect, that the hub's account on the user's broker reaches every topic."""
    assert provisioner.admin is not None
    username, password = provisioner.admin
    endpoint = provisioner.endpoint

    async def grant() -> None:
        try:
            await dynsec.grant_hub_access(endpoint["host"], endpoint["port"], username, password)
        except HubError as err:
            _LOGGER.error("Cannot give the hub's account %r full access on the MQTT broker: %s. Adding devices "
                          "fails until it administers the broker's dynamic-security plugin", username, err)

    def connected() -> None:
        hub.create_task(grant(), "mqtt grant hub access")

    hub.on_stop(client.on_connect(connected))


def _warn_other_roots(devices: DeviceStore, root: str) -> None:
    """Say so when devices were provisioned under another topic root than the configured one."""
    others = sorted(d.node_id for d in devices.devices.values() if d.topic_root != root)
    if others:
        _LOGGER.warning(
            "mqtt.topic_root is %r but %d device(s) were added under another root and keep using it: %s. "
            "Remove and add them again (`hub device remove`, `hub device add`) to move them to %r",
            root, len(others), ", ".join(others[:10]) + (" ..." if len(others) > 10 else ""), root)


async def _watch_broker(hub: Hub, broker: EmbeddedBroker, client: MqttClient) -> None:
    """Show the embedded broker's health, and reconnect the moment it runs again after a crash."""
    sensor = EmbeddedBrokerSensor(broker.engine_name, broker.url)
    await hub.entities.add(sensor, "mqtt")

    def changed(running: bool) -> None:
        sensor.update(running, broker.restarts, broker.last_exit)
        if running:
            client.reconnect_now()

    broker.on_change = changed


@hookimpl
async def home_leaving(hub: Hub, reason: str) -> None:
    """A home of many leaves the running process: leave the process's connection (shared.HomeClient.leave).

    Removed for good: its filters are unsubscribed. Suspended or restarting with a changed record:
    they are first kept in a parked session at the broker, read when the home runs again. The
    process stopping: its messages are no longer handled, its filters stay in the process's
    session (the broker keeps what comes for the next start).
    """
    runtime = runtime_of(hub)
    if runtime is None or not isinstance(runtime.client, shared.HomeClient):
        return
    if reason == LEAVING_STOPPING:
        await runtime.client.stop()
    else:
        await runtime.client.leave(park=reason != LEAVING_REMOVED)


async def detach(hub: Hub) -> None:
    """A home of many leaves the running process for good: leave the shared connection, then stop its client."""
    runtime = runtime_of(hub)
    if runtime is not None and isinstance(runtime.client, shared.HomeClient):
        await runtime.client.detach()


@hookimpl
def register_http_routes(hub: Hub, app: Any) -> None:
    """Add POST /api/v1/devices and DELETE /api/v1/devices/{id}: provisioning of devices."""
    from integrations.mqtt.devices_http import add_routes

    runtime = runtime_of(hub)
    if runtime is not None:
        add_routes(app, runtime.provisioner)


@hookimpl
def register_trigger_platforms(hub: Hub) -> dict[str, Any]:
    """Offer the `mqtt` trigger platform to automations."""
    return {"mqtt": attach_trigger, "device.mqtt": attach_device_trigger}


@hookimpl
def check_readiness(hub: Hub) -> dict[str, str]:
    """Report whether the hub is connected to its broker."""
    runtime = runtime_of(hub)
    if runtime is None:
        return ops_status.readiness(None)
    return ops_status.readiness(runtime.client, runtime.broker)


@hookimpl
def collect_metrics(hub: Hub) -> list[Metric]:
    """Report the connection state and the messages received."""
    runtime = runtime_of(hub)
    if runtime is None:
        return []
    return ops_status.metrics(runtime.client, runtime.broker) + limits.metrics(hub)


@hookimpl
async def start_demo(hub: Hub, nodes: int, interval: float) -> Callable[[], Awaitable[None]] | None:
    """Start simulated energy-meter nodes (the node firmware under CPython) on the hub's broker."""
    from integrations.mqtt.demo import start_nodes

    mqtt = api(hub)
    if mqtt is None:
        return None
    return await start_nodes(mqtt, Path(hub.config.data_dir or ".") / "demo-nodes", nodes, interval, hub)


async def _stop(hub: Hub, runtime: MqttRuntime) -> None:
    hub.runtime.pop(MQTT)
    # Disconnected already in the sources stage (a second stop does nothing); before unsubscribing
    # in any case: that would end the persistent session's subscriptions, and with them the
    # messages the broker queues for us until the next start.
    await runtime.client.stop()
    if runtime.discovery is not None:
        await runtime.discovery.stop()
    if runtime.store is not None:
        await runtime.store.flush()
    if runtime.broker is not None:
        await runtime.broker.stop()
