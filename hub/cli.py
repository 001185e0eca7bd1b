"""The `hub` command: its parser, where each command goes, and `hub run`, `check-config`, `backup`, `restore`.

The other commands live in modules of their own, imported only when one of them runs: users
(hub/cli_users.py); tokens, signing keys and bans (hub/cli_auth.py); the database they open
(hub/cli_db.py); tenants and homes (hub/tenancy/cli.py); devices and API keys (their integrations).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from hub import __version__
from hub.exceptions import ConfigError, HubError
from hub.ops.logs import quiet_libraries

_LOGGER = logging.getLogger("hub")


def _add_location_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, default=Path("config"), help="configuration directory (default: ./config)")
    parser.add_argument("--data", type=Path, default=None, help="data directory (default: <config>/.storage)")


def _tenancy_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hub.tenancy.cli import add_parsers

    add_parsers(commands, _add_location_options)


def _home_options(parser: argparse.ArgumentParser, home_help: str) -> None:
    parser.add_argument("--home", default=None, help=home_help)
    parser.add_argument("--tenant", default=None, help="the tenant (name or id) of --home, when homes of several "
                        "tenants have its name")


def _user_options(parser: argparse.ArgumentParser, home_help: str) -> None:
    parser.add_argument("--home", default=None, help=f"in a hub of many homes: {home_help}")
    parser.add_argument("--tenant", default=None, help="in a hub of many homes: the user's tenant (name or id), "
                        "checked: user names are unique in the hub")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `hub` command."""
    parser = argparse.ArgumentParser(prog="hub", description="A self-hosted home and IoT automation hub.")
    parser.add_argument("--version", action="version", version=f"hub {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the hub until SIGINT or SIGTERM")
    _add_location_options(run)
    run.add_argument("--port", type=int, default=None, help="HTTP port (default: http.server_port, 8123)")
    run.add_argument("--host", default=None, help="HTTP address (default: http.server_host, 127.0.0.1)")
    run.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    run.add_argument("--demo", action="store_true", help="also run a few simulated energy-meter nodes on the hub's MQTT broker")

    check = commands.add_parser("check-config", help="validate the configuration and print every error")
    _add_location_options(check)

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="add a user")
    _add_location_options(add)
    add.add_argument("name")
    add.add_argument("--role", choices=["owner", "admin", "user", "read-only"], default="user",
                     help="the user's role (in --home, when given)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--home", default=None, help="the home (id or name) the user gets --role in, in a hub of many homes")
    add.add_argument("--tenant", default=None, help="the tenant (name or id) of --home, when homes of several tenants "
                     "have its name")
    unlock = user.add_parser("unlock", help="clear the failed-login counts of a user, from every address")
    _add_location_options(unlock)
    unlock.add_argument("name")
    _user_options(unlock, "only checks that the user has a role there: a user's failed logins count in every home "
                  "of their tenant")
    listing_users = user.add_parser("list", help="list the users: name, role, active (with many homes: the users "
                                    "with a role in --home, and that role)")
    _add_location_options(listing_users)
    _home_options(listing_users, "the home (id or name) whose users to list, in a hub of many homes")
    passwd = user.add_parser("passwd", help="set a new password for a user (a reset: their logins end)")
    _add_location_options(passwd)
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    _user_options(passwd, "only checks that the user has a role there: a password is the user's in every home of "
                  "their tenant, and their logins end in every one")
    remove = user.add_parser("remove", help="remove a user and every token of theirs (with many homes and --home: "
                             "the user leaves that home)")
    _add_location_options(remove)
    remove.add_argument("name")
    _user_options(remove, "the home the user leaves (their role and the tokens made there go; the user goes "
                  "with their last home), in a hub of many homes")
    remove.add_argument("--all-homes", action="store_true", help="without --home in a hub of many homes: remove "
                        "the user from their tenant although they have a role in several homes")

    auth = commands.add_parser("auth", help="token signing keys and banned addresses").add_subparsers(
        dest="auth_command", required=True
    )
    rotate = auth.add_parser("rotate-key", help="make a new token signing key; the old one verifies for one access-token lifetime")
    _add_location_options(rotate)
    bans = auth.add_parser("bans", help="list the addresses banned by http: login_attempts_threshold")
    _add_location_options(bans)
    unban = auth.add_parser("unban", help="lift the ban of an address")
    _add_location_options(unban)
    unban.add_argument("address")

    token = commands.add_parser("token", help="manage access tokens").add_subparsers(dest="token_command", required=True)
    create = token.add_parser("create", help="create a long-lived access token for a user and print it")
    _add_location_options(create)
    create.add_argument("user", help="the user's name")
    create.add_argument("--name", dest="label", required=True, help="a label for the token")
    create.add_argument("--days", type=int, default=3650, help="lifetime in days (default 3650)")
    listing = token.add_parser("list", help="list a user's tokens (never their values)")
    _add_location_options(listing)
    listing.add_argument("user", help="the user's name")
    revoke = token.add_parser("revoke", help="revoke a token by its id (from `hub token list`)")
    _add_location_options(revoke)
    revoke.add_argument("token_id")
    for sub in token.choices.values():
        _home_options(sub, "the home (id or name) the token acts in, in a hub of many homes: a token is made in "
                      "one home and acts there only")

    apikey = commands.add_parser("apikey", help="manage device API keys (POST /api/v1/telemetry)").add_subparsers(
        dest="apikey_command", required=True
    )
    key_create = apikey.add_parser("create", help="create a device API key and print it (shown only once)")
    _add_location_options(key_create)
    key_create.add_argument("name", help="what the key is for, e.g. the device's name")
    key_create.add_argument("--device", default=None, help="the device it writes for (default: made from NAME)")
    key_create.add_argument("--backfill-days", type=float, default=7.0,
                            help="how far back its readings may go: the device's buffer (default 7)")
    key_create.add_argument("--expires-days", type=float, default=None, help="lifetime in days (default: no expiry)")
    for verb, text in (("list", "list device API keys (never their values)"), ("revoke", "revoke a device API key by its id")):
        sub = apikey.add_parser(verb, help=text)
        _add_location_options(sub)
        if verb == "revoke":
            sub.add_argument("key_id")
    for sub in apikey.choices.values():
        sub.add_argument("--home", default=None, help="the key's home (id or name), in a hub of many homes (`homes:`)")

    device = commands.add_parser("device", help="MQTT devices: accounts and topics on the hub's broker").add_subparsers(
        dest="device_command", required=True
    )
    device_add = device.add_parser("add", help="register a device; print its MQTT settings and password (shown once)")
    _add_location_options(device_add)
    device_add.add_argument("node_id", help="the device's id: letters, digits, _ and - (Tasmota: its topic)")
    device_add.add_argument("--kind", default="powerhub", choices=["powerhub", "tasmota", "esphome", "zigbee2mqtt", "generic"])
    device_add.add_argument("--name", default=None, help="display name (default: the node id)")
    device_add.add_argument("--location", default=None, help="where it is, e.g. kitchen")
    device_add.add_argument("--out", type=Path, default=None, help="write our firmware's config.json here")
    device_add.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    device_list = device.add_parser("list", help="list registered devices")
    device_remove = device.add_parser("remove", help="revoke a device's account at once")
    device_remove.add_argument("node_id")
    for sub in (device_add, device_list, device_remove):
        if sub is not device_add:
            _add_location_options(sub)
        sub.add_argument("--host", default=None, help="the address devices connect to (default: this machine's)")
        sub.add_argument("--discovery-prefix", default=None, help="default: mqtt.discovery_prefix of configuration.yaml")
        sub.add_argument("--home", default=None, help="the device's home (id or name), in a hub of many homes (`homes:`)")

    mqtt = commands.add_parser("mqtt", help="the MQTT broker").add_subparsers(dest="mqtt_command", required=True)
    export = mqtt.add_parser("export-acl", help="write a password file and an ACL file (or dynamic-security JSON) for your own Mosquitto")
    _add_location_options(export)
    export.add_argument("--out", type=Path, required=True, help="folder to write to")
    export.add_argument("--format", choices=["files", "dynsec"], default="files",
                        help="files: passwd + acl for password_file/acl_file; dynsec: dynamic-security.json")
    _home_options(export, "in a hub of many homes, one home's devices only (to review or merge them); without it, "
                  "every home's devices, each held to its home's topic root: the broker is every home's")

    _tenancy_parsers(commands)

    backup = commands.add_parser("backup", help="write one archive with the configuration, the database and optionally history")
    _add_location_options(backup)
    backup.add_argument("--out", type=Path, default=None, help="archive to write (default: ./hub-backup-<UTC time>.tar.gz)")
    backup.add_argument("--history", action="store_true", help="also archive the recorder's history")
    backup.add_argument("--since", type=_timestamp, default=None, help="history from (ISO 8601 date/time or epoch seconds)")
    backup.add_argument("--until", type=_timestamp, default=None, help="history until (ISO 8601 date/time or epoch seconds)")
    backup.add_argument("--include-secrets", action="store_true", help="include secrets.yaml (left out by default)")

    restore = commands.add_parser("restore", help="restore an archive into an empty data directory")
    restore.add_argument("archive", type=Path)
    _add_location_options(restore)
    return parser


def _timestamp(value: str) -> float:
    """Return epoch seconds from epoch seconds or an ISO 8601 date/time (UTC when naive)."""
    from datetime import UTC, datetime  # noqa: PLC0415

    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ISO 8601 (2026-01-31 or 2026-01-31T12:00) or epoch seconds, got {value!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `hub` command and return its exit code."""
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if getattr(args, "verbose", False) else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_libraries()
    try:
        if args.command == "run":
            return asyncio.run(_run(args))
        if args.command == "check-config":
            return _check_config(args)
        if args.command == "user":
            from hub.cli_users import run as run_user

            return asyncio.run(run_user(args))
        if args.command in ("tenant", "home", "db"):
            from hub.cli_db import open_admin
            from hub.tenancy.cli import run as run_tenancy

            return asyncio.run(run_tenancy(args, open_admin))
        if args.command == "auth":
            from hub.cli_auth import run_auth

            return asyncio.run(run_auth(args))
        if args.command == "backup":
            return asyncio.run(_backup(args))
        if args.command == "restore":
            return asyncio.run(_restore(args))
        if args.command == "token":
            from hub.cli_auth import run_token

            return asyncio.run(run_token(args))
        if args.command == "apikey":
            from hub.cli_db import open_home
            from hub.plugins import load_integration

            # Device API keys belong to the http_ingest integration: it is found the way the
            # hub finds every integration, and runs the command through its documented entry.
            ingest = load_integration("http_ingest", args.config)
            # A module loaded at run time: mypy cannot see that its command returns the exit code.
            return cast(int, asyncio.run(ingest.run_apikey_command(args, open_home)))
        if args.command in ("device", "mqtt"):
            from hub.cli_db import acl_homes, data_dir_of, device_home
            from hub.plugins import load_integration

            # Devices' broker accounts belong to the mqtt integration, found like every integration.
            mqtt = load_integration("mqtt", args.config)
            if args.command == "mqtt":
                return cast(int, mqtt.run_export_acl(args, data_dir_of(args), asyncio.run(acl_homes(args))))
            home = asyncio.run(device_home(args))
            return cast(int, asyncio.run(mqtt.run_device_command(args, data_dir_of(args), home)))
    except ConfigError as err:
        _print_issues(err, args.config)
        return 1
    except HubError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def _print_issues(err: ConfigError, config_dir: Path) -> None:
    print(f"Invalid configuration in {config_dir}:", file=sys.stderr)
    for issue in err.issues:
        print(f"  {issue}", file=sys.stderr)


def _check_config(args: argparse.Namespace) -> int:
    from hub.bootstrap import check_config, check_entity_references, check_integration_configs

    checked = check_config(args.config)
    # Every problem is printed below; the loaders' own error logs would repeat them.
    logging.disable(logging.CRITICAL)
    issues = asyncio.run(check_integration_configs(args.config, checked))
    warnings = asyncio.run(check_entity_references(args.config, checked, args.data))
    logging.disable(logging.NOTSET)
    if warnings:
        print(f"Warnings in {args.config}:", file=sys.stderr)
        for warning in warnings:
            print(f"  {warning}", file=sys.stderr)
    if issues:
        raise ConfigError(issues)
    domains = ", ".join(i.domain for i in checked.integrations) or "none"
    print(f"Configuration in {args.config} is valid (integrations: {domains}).")
    return 0


async def _run(args: argparse.Namespace) -> int:
    from hub import heap
    from hub.imports import side_by_side

    # What the imports and the start make lives as long as the process: no collection walks it
    # on the way (heap.paused), and it is frozen out of later ones at once, without a collection
    # (keep_young collects and freezes again once settled). With the collector on, the start's
    # young and middle-generation passes over the new registries and entities (and the full one
    # keep_young began with) took ~0.1 CPU s of a warm start with 5,000 entities, before its
    # first answer, to free ~100 objects: a start paused throughout leaves 40-150 unreachable,
    # cold or warm, which stay until the next full freeze (hub/heap.py: FULL_EVERY).
    with heap.paused():
        from hub.ops.allocator import tune_allocator

        # Before the first big payload (a long-running process) and the first thread, which keeps
        # the arena it gets (hub/ops/allocator.py).
        tune_allocator()
        # aiohttp's import spends ~50 ms in OpenSSL without the GIL (hub/imports.py): in a thread,
        # while this one imports the SQLAlchemy side of the hub, which does not need aiohttp.
        side_by_side("aiohttp", ("hub.auth.store", "hub.registry.entities", "hub.registry.restore"))
        from hub import bootstrap

        # Whatever the hub writes (databases, spool, broker files) is for its own user only.
        os.umask(0o077)
        # Handlers first: a SIGTERM while the hub starts (systemd stopping it, a slow machine) must
        # stop it cleanly once started, not kill it half-way with the default action.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        checked = bootstrap.check_config(args.config.resolve())  # imports every enabled integration
        runtime = await bootstrap.start(args.config, args.data, port=args.port, host=args.host, checked=checked)
        heap.freeze(collect=False)
    # Not a hub task: it runs for the life of the process (block_till_done must not wait on it).
    heap_policy = loop.create_task(heap.keep_young(), name="heap: freeze long-lived objects")
    if not await runtime.hub.require_auth().has_users():
        _LOGGER.warning(
            "No user exists yet: create the owner in the web UI (see the onboarding line above), "
            "or with: hub user add NAME --role owner --password-stdin -c %s",
            args.config,
        )
    stop_demo = None
    if getattr(args, "demo", False):
        from hub.demo import start_demo

        stop_demo = await start_demo(runtime.hub)
    print(f"Hub running at {runtime.url} (Ctrl-C to stop)", flush=True)
    await stop.wait()
    if stop_demo is not None:
        await stop_demo()
    began = time.monotonic()
    heap_policy.cancel()
    await bootstrap.stop(runtime)
    _LOGGER.info("Hub stopped in %.2f s", time.monotonic() - began)
    return 0


async def _backup(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    from hub.bootstrap import database_url  # noqa: PLC0415
    from hub.config import load_configuration  # noqa: PLC0415
    from hub.ops.backup import BackupRequest, create_backup  # noqa: PLC0415

    if (args.since is not None or args.until is not None) and not args.history:
        print("error: --since and --until choose the history to archive; add --history", file=sys.stderr)
        return 2
    config_dir = args.config.resolve()
    config = load_configuration(config_dir)
    data_dir = (args.data or config_dir / ".storage").resolve()
    out = args.out or Path(f"hub-backup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar.gz")
    request = BackupRequest(config_dir, data_dir, out.resolve(), args.history, args.since, args.until, args.include_secrets)
    manifest = await create_backup(request, config, database_url(config, data_dir))
    size = out.stat().st_size
    history = f", history: {manifest.history['points']} points" if manifest.history else ""
    print(f"Wrote {out} ({size / 1e6:.1f} MB, {len(manifest.files)} files, {manifest.database['kind']} database{history}).")
    if not manifest.secrets_included and (config_dir / "secrets.yaml").exists():
        print("secrets.yaml was left out; keep a copy of it somewhere safe (or use --include-secrets).")
    return 0


async def _restore(args: argparse.Namespace) -> int:
    from hub.bootstrap import database_url  # noqa: PLC0415
    from hub.config import load_configuration  # noqa: PLC0415
    from hub.ops.restore import restore_backup  # noqa: PLC0415

    config_dir = args.config.resolve()
    data_dir = (args.data or config_dir / ".storage").resolve()
    report = await restore_backup(args.archive, config_dir, data_dir, load_configuration, database_url)
    made = report.manifest
    print(f"Restored the backup of {made.created_at} (hub {made.hub_version}) into {config_dir} and {data_dir}.")
    if report.kept_files:
        print(f"Kept files already in {config_dir}: {', '.join(report.kept_files)}")
    if made.history is not None:
        print(f"History: {report.history_points} points written.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
