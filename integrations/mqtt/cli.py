"""`hub device add|list|remove` and `hub mqtt export-acl`: devices' broker accounts from a shell.

They work on the data dir: beside a running hub (a LAN-bound embedded broker learns of a new or
removed device at once, through its dynamic-security plugin) or while it is stopped (the broker
loads the devices when it starts). `export-acl` writes the files a user's own Mosquitto needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hub.exceptions import ConfigError, HubError
from hub.homes.record import HomeRecord
from hub.storage.private_files import write_private
from integrations.mqtt.config import CONFIG_SCHEMA, connection_settings
from integrations.mqtt.dynsec import UNREACHABLE
from integrations.mqtt.provisioner import Provisioner, own_broker_provisioner
from integrations.mqtt.provisioning import (
    HUB_USERNAME,
    DeviceCredentials,
    DeviceStore,
    account_prefix,
    acl_file,
    dynamic_security,
    password_file,
)


def _endpoint(data_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((data_dir / "mqtt_broker" / "endpoint.json").read_text()))
    except (OSError, ValueError):
        return {}


def mqtt_settings(config_dir: Path) -> dict[str, Any]:
    """Return the validated `mqtt:` section of configuration.yaml (its defaults without the file).

    Raises:
        ConfigError: the file or the section is invalid (the issues name the file, line and key).
    """
    from hub.config.check import load_configuration, validate_section

    section: Any = None
    if (config_dir / "configuration.yaml").exists():
        section = load_configuration(config_dir).get("mqtt")
    validated, issues = validate_section("mqtt", CONFIG_SCHEMA, section, base_dir=config_dir)
    if issues:
        raise ConfigError(issues)
    return dict(validated)


def _provisioner(args: argparse.Namespace, data_dir: Path, home: HomeRecord | None) -> Provisioner:
    settings = mqtt_settings(args.config)
    # In a hub of many homes a device belongs to one: its data dir, topic root, discovery prefix
    # and account name (`<tenant>.<home>.<node>`) are that home's, as when it is added in the UI.
    prefix = ""
    if home is not None:
        from hub.homes.settings import home_mqtt

        settings = home_mqtt(settings, home)
        data_dir = data_dir / "homes" / home.home_id
        prefix = account_prefix(home.scope)
    if args.discovery_prefix:
        settings["discovery_prefix"] = args.discovery_prefix
    store = DeviceStore(data_dir)
    if settings.get("broker"):
        # A user's own Mosquitto that the hub administers: the device's account goes there now.
        own = own_broker_provisioner(settings, connection_settings(settings, settings["broker"], data_dir), store,
                                     args.host, account_prefix=prefix)
        if own is not None:
            return own
    return Provisioner(store, None, settings["discovery_prefix"], args.host, _endpoint(data_dir),
                       root=settings["topic_root"], account_prefix=prefix)


async def run_device_command(args: argparse.Namespace, data_dir: Path, home: HomeRecord | None = None) -> int:
    """Run `hub device add|list|remove`; return the exit code.

    Args:
        args: the command's arguments.
        data_dir: the process's data dir.
        home: the home `--home` named (the `hub` command resolves it over the tenancy store);
            None in a hub of one home.
    """
    provisioner = _provisioner(args, data_dir, home)
    if args.device_command == "list":
        for listed in sorted(provisioner.store.devices.values(), key=lambda d: d.node_id):
            print(f"{listed.node_id}\t{listed.kind}\t{listed.name}\t{listed.location or ''}")
        return 0
    if args.device_command == "remove":
        device = provisioner.store.by_device_id(args.node_id)
        if device is None:
            print(f"error: no device {args.node_id!r} (see `hub device list`)", file=sys.stderr)
            return 1
        if provisioner.admin is not None:
            await provisioner.remove(device)  # a user's own broker: it must forget the account now
        else:
            await _tolerate_stopped_broker(provisioner, device)
        print(f"Removed {device.node_id}: its account no longer logs in")
        return 0
    answer = await _add(provisioner, args)
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    mqtt = answer["mqtt"]
    print(f"Device {answer['node_id']} ({answer['kind']}) added. Its password is shown only this once.\n")
    print(f"  host      {mqtt['host']}\n  port      {mqtt['port']}")
    if mqtt["tls_port"]:
        print(f"  TLS port  {mqtt['tls_port']}\n  CA SHA-256          {mqtt['ca_fingerprint']}"
              f"\n  broker cert SHA-256 {mqtt['fingerprint']}")
    print(f"  username  {mqtt['username']}\n  password  {mqtt['password']}\n")
    print("  may publish:   " + " ".join(answer["topics"]["publish"]))
    print("  may subscribe: " + " ".join(answer["topics"]["subscribe"]) + "\n")
    for kind, value in answer["setup"].items():
        print(f"{kind}:")
        print(json.dumps(value, indent=2) if kind == "config.json" else
              "\n".join(value) if isinstance(value, list) else value if isinstance(value, str) else json.dumps(value, indent=2))
    if args.out:
        config = answer["setup"].get("config.json")
        if config is None:
            print("error: --out writes our firmware's config.json; this kind has none", file=sys.stderr)
            return 1
        write_private(args.out, json.dumps(config, indent=2).encode())
        print(f"\nWrote {args.out}: set wifi.ssid and wifi.password, then copy it to the node.")
    return 0


async def _add(provisioner: Provisioner, args: argparse.Namespace) -> dict[str, Any]:
    try:
        return await provisioner.add(args.node_id, args.name, args.kind, args.location)
    except HubError as err:
        if UNREACHABLE not in str(err) or provisioner.admin is not None:
            raise  # a user's own broker must take the account now: nothing loads it later
    # The hub is stopped: the device is saved, and the broker loads it when the hub starts.
    provisioner.offline = True
    return await provisioner.add(args.node_id, args.name, args.kind, args.location)


async def _tolerate_stopped_broker(provisioner: Provisioner, device: DeviceCredentials) -> None:
    try:
        await provisioner.remove(device)
    except HubError as err:
        if UNREACHABLE not in str(err):
            raise
        # The hub is stopped: forget the device; the broker loads the store without it at start.
        provisioner.offline = True
        await provisioner.remove(device)


def run_export_acl(args: argparse.Namespace, data_dir: Path, homes: list[HomeRecord] | None = None) -> int:
    """Run `hub mqtt export-acl`: files for a user's own Mosquitto; return the exit code.

    Args:
        args: the command's arguments.
        data_dir: the process's data dir (the hub's own broker account is kept there).
        homes: in a hub of many homes, the homes whose devices to write (every home, or the one
            `--home` names; each home's devices are in `<data>/homes/<id>/`, held to its topic
            root); None in a hub of one home.
    """
    store = DeviceStore(data_dir)
    sections = None if homes is None else [
        (f"home {home.home_id} ({home.name}, tenant {home.scope.tenant_id}): topic root {home.topic_root}",
         list(DeviceStore(data_dir / "homes" / home.home_id).devices.values()))
        for home in homes
    ]
    devices = None if sections is None else [device for _comment, listed in sections for device in listed]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.format == "dynsec":
        write_private(out / "dynamic-security.json", json.dumps(dynamic_security(store, devices), indent=1).encode())
        written = ["dynamic-security.json"]
    else:
        write_private(out / "passwd", password_file(store, devices=devices).encode())
        write_private(out / "acl", acl_file(store, sections=sections).encode())
        written = ["passwd", "acl"]
    count = len(store.devices) if devices is None else len(devices)
    where = "" if homes is None else f" of {len(homes)} home(s): {', '.join(home.home_id for home in homes) or 'none'}"
    print(f"Wrote {', '.join(str(out / name) for name in written)} for {count} devices{where}.")
    print(f"The hub logs in as {HUB_USERNAME} with the password in {store.hub_path}: put both in "
          "configuration.yaml (mqtt: username, password). See docs/mqtt.md, \"Your own broker\".")
    return 0
