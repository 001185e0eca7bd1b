"""Change a running Mosquitto's clients and roles through its dynamic-security plugin.

Commands go as JSON to `$CONTROL/dynamic-security/v1` from a short-lived connection of the
hub's own account (what `mosquitto_ctrl` does, without putting the password on a command line
that every local user can read); the broker applies them at once, no restart. Deleting a
client disconnects it.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from typing import TYPE_CHECKING, Any

from hub.exceptions import HubError
from integrations.mqtt.provisioning import HUB_ACLS, HUB_ROLE, DeviceCredentials, device_acls

if TYPE_CHECKING:
    import paho.mqtt.client as paho

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
UNREACHABLE = "Cannot reach the MQTT broker"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
TIMEOUT = 10.0
PLUGIN_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/arm-linux-gnueabihf",
               "/usr/lib", "/usr/local/lib", "/usr/lib/mosquitto")


def find_plugin() -> str | None:
    """Return the path of mosquitto_dynamic_security.so, if installed."""
    for directory in PLUGIN_DIRS:
        candidate = os.path.join(directory, "mosquitto_dynamic_security.so")
        if os.path.exists(candidate):
            return candidate
    return None


def _send(host: str, port: int, username: str, password: str, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # paho is imported here, when the broker is administered: the default MQTT client is gmqtt,
    # and a hub that never adds a device need not load a second MQTT library at start.
    import paho.mqtt.client as paho  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    done = threading.Event()
    answer: list[dict[str, Any]] = []
    # Every administrator's connection receives every response: ours carry our correlation data.
    correlation = secrets.token_hex(8)
    commands = [{**command, "correlationData": correlation} for command in commands]
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"powerhub-admin-{secrets.token_hex(4)}")
    client.username_pw_set(username, password)

    def on_connect(client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            done.set()
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def on_subscribe(client: paho.Client, *_: Any) -> None:
        client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)

    def on_message(_c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload).get("responses", [])
        except (ValueError, AttributeError):
            return
        ours = [r for r in responses if isinstance(r, dict) and r.get("correlationData") == correlation]
        if ours:
            answer.extend(ours)
            done.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(host, port, keepalive=30)
    except OSError as err:
        message = f"{UNREACHABLE} at {host}:{port} to change its clients: {err}"
        raise HubError(message) from err
    client.loop_start()
    try:
        if not done.wait(TIMEOUT) or not answer:
            message = "The embedded broker did not answer a dynamic-security command (is the plugin loaded?)"
            raise HubError(message)
    finally:
        client.disconnect()
        client.loop_stop()
    errors = [f"{r.get('command')}: {r['error']}" for r in answer if r.get("error")]
    if errors:
        message = "The embedded broker refused: " + "; ".join(errors)
        raise HubError(message)
    return answer


async def send(host: str, port: int, username: str, password: str, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run dynamic-security commands on the broker; raise HubError naming any that failed."""
    return await asyncio.to_thread(_send, host, port, username, password, commands)


async def grant_hub_access(host: str, port: int, username: str, password: str) -> None:
    """Give the hub's account on a user's own broker full access to every topic (its role
    `powerhub-hub`), as on the embedded broker; nothing changes when it has it already.

    Adding the role makes the broker disconnect the account's clients once, so that the new
    rights apply: the hub's connection comes back at once.

    Raises:
        HubError: the broker cannot be reached or the account may not administer it.
    """
    try:
        await send(host, port, username, password, [{"command": "createRole", "rolename": HUB_ROLE, "acls": HUB_ACLS}])
    except HubError as err:
        if "already exists" not in str(err):
            raise
    if HUB_ROLE in await _roles(host, port, username, password):
        return
    try:
        await send(host, port, username, password, [{"command": "addClientRole", "username": username,
                                                     "rolename": HUB_ROLE}])
    except HubError:
        # Mosquitto 2.0.11 answers "Internal error" to a client that gives its own account a role,
        # having given it: what counts is whether the account has the role now.
        if HUB_ROLE not in await _roles(host, port, username, password):
            raise


async def _roles(host: str, port: int, username: str, password: str) -> set[str]:
    answer = await send(host, port, username, password, [{"command": "getClient", "username": username}])
    client = answer[0].get("data", {}).get("client", {}) if answer else {}
    return {str(role.get("rolename")) for role in client.get("roles", [])}


def add_commands(device: DeviceCredentials, password: str) -> list[dict[str, Any]]:
    """Return the commands that create a device's role and account."""
    return [
        {"command": "createRole", "rolename": device.role, "acls": device_acls(device)},
        {"command": "createClient", "username": device.username, "password": password, "textname": device.name,
         "roles": [{"rolename": device.role}]},
    ]


def remove_commands(device: DeviceCredentials) -> list[dict[str, Any]]:
    """Return the commands that delete a device's account (which disconnects it) and role."""
    return [{"command": "deleteClient", "username": device.username}, {"command": "deleteRole", "rolename": device.role}]
