"""The `hub` command: run a hub, check its configuration, manage users and tokens."""

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
from typing import TYPE_CHECKING, cast

from hub import __version__
from hub.exceptions import ConfigError, HubError
from hub.ops.logs import quiet_libraries

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.auth.store import AuthStore, User
    from hub.homes.record import HomeRecord
    from hub.tenancy.store import Home
    from hub.tenancy.users import TenantUser

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
            user_handlers = {"add": _user_add, "unlock": _user_unlock, "list": _user_list,
                             "passwd": _user_passwd, "remove": _user_remove}
            return asyncio.run(user_handlers[args.user_command](args))
        if args.command in ("tenant", "home", "db"):
            from hub.tenancy.cli import run as run_tenancy

            return asyncio.run(run_tenancy(args, _open_admin))
        if args.command == "auth":
            handlers = {"rotate-key": _auth_rotate_key, "bans": _auth_bans, "unban": _auth_unban}
            return asyncio.run(handlers[args.auth_command](args))
        if args.command == "backup":
            return asyncio.run(_backup(args))
        if args.command == "restore":
            return asyncio.run(_restore(args))
        if args.command == "token":
            handlers = {"create": _token_create, "list": _token_list, "revoke": _token_revoke}
            return asyncio.run(handlers[args.token_command](args))
        if args.command == "apikey":
            from hub.plugins import load_integration

            # Device API keys belong to the http_ingest integration: it is found the way the
            # hub finds every integration, and runs the command through its documented entry.
            ingest = load_integration("http_ingest", args.config)
            # A module loaded at run time: mypy cannot see that its command returns the exit code.
            return cast(int, asyncio.run(ingest.run_apikey_command(args, _open_home)))
        if args.command in ("device", "mqtt"):
            from hub.plugins import load_integration

            # Devices' broker accounts belong to the mqtt integration, found like every integration.
            mqtt = load_integration("mqtt", args.config)
            if args.command == "mqtt":
                return cast(int, mqtt.run_export_acl(args, _data_dir(args), asyncio.run(_acl_homes(args))))
            home = asyncio.run(_device_home(args))
            return cast(int, asyncio.run(mqtt.run_device_command(args, _data_dir(args), home)))
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

    # What the imports and the start make lives as long as the process: no collection walks it
    # on the way (heap.paused), and it is frozen out of later ones at once, without a collection
    # (keep_young collects and freezes again once settled). With the collector on, the start's
    # young and middle-generation passes over the new registries and entities (and the full one
    # keep_young began with) took ~0.1 CPU s of a warm start with 5,000 entities, before its
    # first answer, to free ~100 objects: a start paused throughout leaves 40-150 unreachable,
    # cold or warm, which stay until the next full freeze (hub/heap.py: FULL_EVERY).
    with heap.paused():
        from hub import bootstrap
        from hub.ops.allocator import tune_allocator

        tune_allocator()  # before the first big payload: a long-running process (hub/ops/allocator.py)
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


async def _open_admin(args: argparse.Namespace) -> AsyncEngine:
    """Open the hub's database as its owner (`storage: migrate_url`, else `db_url`), migrated."""
    from hub.bootstrap import database_url, migration_url
    from hub.config import load_configuration
    from hub.storage.engine import create_engine, migrate
    from hub.storage.private_files import prepare_data_dir

    config = load_configuration(args.config)
    data_dir = _data_dir(args)
    prepare_data_dir(data_dir)
    engine = create_engine(migration_url(config) or database_url(config, data_dir))
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


async def _open(args: argparse.Namespace) -> tuple[AsyncEngine, AuthStore]:
    """Open the hub's database for a maintenance command (migrating it if needed), in the default home."""
    from hub.auth.store import AuthStore
    from hub.core.scope import DEFAULT_SCOPE
    from hub.storage.scoped import scoped_sessions

    engine = await _open_admin(args)
    return engine, AuthStore(scoped_sessions(engine, DEFAULT_SCOPE))


async def _open_home(args: argparse.Namespace) -> tuple[AsyncEngine, AuthStore]:
    """Open the database for a command that acts in one home: the home `--home` names in a hub of
    many homes (required there: the error lists the homes), else the default home."""
    engine, home = await _open_in_home(args)
    return engine, _auth_in(engine, home)


async def _open_in_home(args: argparse.Namespace) -> tuple[AsyncEngine, Home | None]:
    """Open the database as the owner and resolve `--home` (and `--tenant`) over the tenancy store."""
    from hub.config import load_configuration
    from hub.tenancy.cli import resolve_home

    config = load_configuration(args.config)
    engine = await _open_admin(args)
    try:
        home = await resolve_home(engine, config, getattr(args, "home", None), getattr(args, "tenant", None))
    except BaseException:
        await engine.dispose()
        raise
    return engine, home


async def _open_user(args: argparse.Namespace) -> tuple[AsyncEngine, TenantUser | None, Home | None]:
    """Open the database for a command on one user: in a hub of many homes, the user of that name
    (checked against --tenant and --home) and the home --home names; (None, None) in a hub of one home."""
    from hub.config import load_configuration
    from hub.tenancy.cli import check_single_home, resolve_home
    from hub.tenancy.users import tenant_user

    config = load_configuration(args.config)
    single = check_single_home(config, args.home, args.tenant)
    engine = await _open_admin(args)
    if single:
        return engine, None, None
    try:
        home = await resolve_home(engine, config, args.home, args.tenant) if args.home is not None else None
        return engine, await tenant_user(engine, args.name, args.tenant, home), home
    except BaseException:
        await engine.dispose()
        raise


def _members_in(engine: AsyncEngine, home: Home | None) -> AuthStore:
    """The auth store a command acts in: the home's (its members with their role there, the tokens
    made there) in a hub of many homes, else the hub's."""
    from hub.tenancy.users import home_auth

    return _auth_in(engine, None) if home is None else home_auth(engine, home)


def _auth_in(engine: AsyncEngine, home: Home | None) -> AuthStore:
    from hub.auth.store import AuthStore
    from hub.core.scope import DEFAULT_SCOPE
    from hub.storage.scoped import scoped_sessions

    return AuthStore(scoped_sessions(engine, DEFAULT_SCOPE if home is None else home.scope))


async def _device_home(args: argparse.Namespace) -> HomeRecord | None:
    """The home `hub device ... --home` works in (None: a hub of one home); the database is read
    only in a hub of many homes, where the homes are."""
    from hub.config import load_configuration
    from hub.tenancy.cli import check_single_home

    # Devices may be added before there is a configuration.yaml (the broker's defaults): one home.
    exists = (args.config / "configuration.yaml").exists()
    if check_single_home(load_configuration(args.config) if exists else {}, getattr(args, "home", None)):
        return None
    engine, home = await _open_in_home(args)
    await engine.dispose()
    assert home is not None  # a hub of many homes: resolved, or an error
    return _record(home)


async def _acl_homes(args: argparse.Namespace) -> list[HomeRecord] | None:
    """The homes whose devices `hub mqtt export-acl` writes: the one --home names, else every home
    (the broker is all of theirs); None in a hub of one home."""
    from hub.config import load_configuration
    from hub.tenancy.cli import check_single_home, resolve_home, served_homes

    exists = (args.config / "configuration.yaml").exists()
    config = load_configuration(args.config) if exists else {}
    if check_single_home(config, args.home, args.tenant):
        return None
    engine = await _open_admin(args)
    try:
        one = await resolve_home(engine, config, args.home, args.tenant) if args.home is not None else None
        homes = [one] if one is not None else await served_homes(engine, config, args.tenant)
    finally:
        await engine.dispose()
    return [_record(home) for home in homes]


def _record(home: Home) -> HomeRecord:
    from hub.homes.record import HomeRecord

    return HomeRecord(home.scope, home.name, home.topic_root, home.time_zone, home.currency)


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data or args.config / ".storage").resolve()


def _read_password(args: argparse.Namespace) -> str | None:
    """The new password from stdin or the terminal; None (with the reason printed) when there is none."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        print(
            f"error: no terminal to ask for the password of {args.name!r}: pass it on standard input "
            f"with --password-stdin, e.g. `printf '%s\\n' \"$PASSWORD\" | hub {args.command} "
            f"{args.user_command} {args.name} --password-stdin`",
            file=sys.stderr,
        )
        return None
    else:
        import getpass

        try:
            password = getpass.getpass(f"Password for {args.name}: ")
        except EOFError:
            print("error: no password given", file=sys.stderr)
            return None
    if len(password) < 8:
        print("error: the password must have at least 8 characters", file=sys.stderr)
        return None
    return password


async def _audited(auth: AuthStore, action: str, target: str) -> None:
    """Record a change made from the command line (the actor is the machine's user)."""
    import getpass

    auth.audit.record(None, action, target, "ok", "cli", user_name=f"cli:{getpass.getuser()}")
    await auth.audit.flush()


async def _user_add(args: argparse.Namespace) -> int:
    engine, home = await _open_in_home(args)
    try:
        auth = _auth_in(engine, home)
        existing = await auth.user_by_name(args.name) if home is not None else None
        if home is not None and existing is not None:
            # A user the tenant has already: a role in one more home.
            from hub.tenancy.store import TenancyStore

            await TenancyStore(engine).add_member(home, existing.id, args.role)
            await _audited(auth, "user add", f"{existing.name} ({args.role} in home {home.name})")
            print(f"{existing.name} now has the role {args.role} in home {home.name} ({home.id}).")
            return 0
        password = _read_password(args)
        if password is None:
            return 1
        user = await auth.add_user(args.name, password, args.role)
        await _audited(auth, "user add", f"{user.name} ({user.role})")
        where = ""
        if home is not None:
            from hub.tenancy.store import TenancyStore

            tenant = await TenancyStore(engine).tenant(home.tenant_id)
            where = f" in home {home.name} ({home.id}) of tenant {tenant.name}"
    finally:
        await engine.dispose()
    print(f"Added user {user.name} ({user.role}{where}).")
    return 0


async def _user_list(args: argparse.Namespace) -> int:
    engine, home = await _open_in_home(args)
    try:
        users = await _members_in(engine, home).list_users()
    finally:
        await engine.dispose()
    if home is not None:
        print(f"Users with a role in home {home.name} ({home.id}), and that role:")
    if not users:
        print("No users yet: open the web UI on this machine to create the owner, or run hub user add.")
        return 0
    width = max(len(u.name) for u in users)
    print(f"{'NAME':<{width}}  {'ROLE':<9}  {'ACTIVE':<6}  CREATED")
    for user in users:
        active = "yes" if user.is_active else "no"
        print(f"{user.name:<{width}}  {user.role:<9}  {active:<6}  {user.created_at:%Y-%m-%d %H:%M}")
    return 0


async def _user_passwd(args: argparse.Namespace) -> int:
    from hub.auth.store import TOKEN_REFRESH
    from hub.tenancy.users import home_auth, tenant_auth

    engine, found, _home = await _open_user(args)  # --home and --tenant are checked before the password is asked
    try:
        password = _read_password(args)
        if password is None:
            return 1
        if found is None:
            auth = _auth_in(engine, None)
            user = await auth.user_by_name(args.name)
            if user is None:
                print(f"error: no user named {args.name!r} (see hub user list)", file=sys.stderr)
                return 1
            await auth.set_password(user.id, password)
            await auth.throttle.unlock(user.name)
            await _audited(auth, "user passwd", user.name)
        else:
            # One password for every home of the tenant: the logins made in each of them end.
            stores = [home_auth(engine, home) for home, _role in found.homes]
            first = stores[0] if stores else tenant_auth(engine, found.user.tenant_id)
            await first.set_password(found.user.id, password)
            for store in stores[1:]:
                await store.revoke_user_tokens(found.user.id, kinds=(TOKEN_REFRESH,))
            await first.throttle.unlock(found.user.name)
            for store in stores:
                await _audited(store, "user passwd", found.user.name)
    finally:
        await engine.dispose()
    where = "" if found is None else f" in every home of tenant {found.tenant} ({found.where()})"
    print(f"New password set for {args.name}; their login sessions have ended{where}.")
    return 0


async def _user_remove(args: argparse.Namespace) -> int:
    from hub.auth.store import AuthError

    engine, found, home = await _open_user(args)
    try:
        if found is not None:
            return await _user_remove_of_tenant(args, engine, found, home)
        auth = _auth_in(engine, None)
        user = await auth.user_by_name(args.name)
        if user is None:
            print(f"error: no user named {args.name!r} (see hub user list)", file=sys.stderr)
            return 1
        try:
            await auth.remove_user(user.id)
        except AuthError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        await _audited(auth, "user remove", user.name)
    finally:
        await engine.dispose()
    print(f"Removed user {user.name} and their tokens.")
    return 0


async def _user_remove_of_tenant(args: argparse.Namespace, engine: AsyncEngine, found: TenantUser,
                                 home: Home | None) -> int:
    """`hub user remove` in a hub of many homes: leave --home, else leave the tenant (hub/tenancy/users.py)."""
    from hub.auth.store import AuthError
    from hub.tenancy.store import TenancyError
    from hub.tenancy.users import check_owners_stay, home_auth, remove_from_tenant

    name = found.user.name
    if home is not None:
        auth = home_auth(engine, home)
        try:
            await auth.remove_user(found.user.id)
        except AuthError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        await _audited(auth, "user remove", f"{name} (left home {home.name})")
        others = len(found.homes) - 1
        print(f"{name} left home {home.name} ({home.id}), with the tokens made there; "
              + (f"they keep their role in {others} other home(s)." if others else
                 f"it was their last home: removed the user from tenant {found.tenant}."))
        return 0
    if len(found.homes) > 1 and not args.all_homes:
        message = (f"{name} has a role in {len(found.homes)} homes ({found.where()}): name the one they leave with "
                   f"--home, or pass --all-homes to remove the user from tenant {found.tenant}")
        raise TenancyError(message)
    await check_owners_stay(engine, found)
    for each, _role in found.homes:  # written before the rows go: the audit row names the user
        await _audited(home_auth(engine, each), "user remove", f"{name} (removed from tenant {found.tenant})")
    await remove_from_tenant(engine, found)
    print(f"Removed user {name} from tenant {found.tenant}, with their tokens (their homes: {found.where()}).")
    return 0


async def _user_unlock(args: argparse.Namespace) -> int:
    engine, found, _home = await _open_user(args)
    try:
        auth = _auth_in(engine, None)  # failed logins are the process's: one count per name, in no home
        if found is None and await auth.user_by_name(args.name) is None:
            print(f"error: no user named {args.name!r}", file=sys.stderr)
            return 1
        cleared = await auth.throttle.unlock(args.name)
    finally:
        await engine.dispose()
    print(f"Unlocked {args.name}: cleared {cleared} failed-login counts; the next login is not held back.")
    return 0


async def _auth_rotate_key(args: argparse.Namespace) -> int:
    from hub.auth.access import ACCESS_TOKEN_LIFETIME
    from hub.auth.signing_keys import KeyFile
    from hub.config import load_configuration
    from hub.storage.private_files import prepare_data_dir

    config = load_configuration(args.config)
    lifetime = int((config.get("http") or {}).get("access_token_lifetime", ACCESS_TOKEN_LIFETIME))
    data_dir = _data_dir(args)
    prepare_data_dir(data_dir)
    key_file = KeyFile.in_data_dir(data_dir)
    ring = key_file.rotate(time.time(), lifetime)
    print(f"New token signing key {ring.current.kid} in {key_file.path}. Tokens signed with the previous key "
          f"stay valid for {lifetime} s; a running hub picks the new key up within seconds.")
    return 0


async def _auth_bans(args: argparse.Namespace) -> int:
    engine, auth = await _open(args)
    try:
        bans = await auth.throttle.bans()
    finally:
        await engine.dispose()
    for address, banned_at, reason in bans:
        print(f"{address:<40}  banned {banned_at:%Y-%m-%d %H:%M} UTC  ({reason})")
    if not bans:
        print("No address is banned.")
    return 0


async def _auth_unban(args: argparse.Namespace) -> int:
    engine, auth = await _open(args)
    try:
        lifted = await auth.throttle.unban(args.address)
    finally:
        await engine.dispose()
    if not lifted:
        print(f"error: {args.address} is not banned", file=sys.stderr)
        return 1
    print(f"Lifted the ban of {args.address}; a running hub lets it in within seconds.")
    return 0


async def _token_list(args: argparse.Namespace) -> int:
    engine, home = await _open_in_home(args)
    try:
        auth = _members_in(engine, home)
        user = await _token_user(auth, args.user, home)
        if user is None:
            return 1
        for info in await auth.list_tokens(user.id):
            status = "revoked" if info.revoked_at else f"expires {info.expires_at:%Y-%m-%d}" if info.expires_at else "no expiry"
            print(f"{info.id}  {info.kind:<10}  {info.label or '-':<24}  created {info.created_at:%Y-%m-%d}  {status}")
    finally:
        await engine.dispose()
    return 0


async def _token_revoke(args: argparse.Namespace) -> int:
    engine, home = await _open_in_home(args)
    try:
        revoked = await _members_in(engine, home).revoke_token(args.token_id)
    finally:
        await engine.dispose()
    if not revoked:
        where = "" if home is None else f" in home {home.name} ({home.id})"
        print(f"error: no live token with id {args.token_id!r}{where}", file=sys.stderr)
        return 1
    print(f"Revoked token {args.token_id}.")
    return 0


async def _token_create(args: argparse.Namespace) -> int:
    engine, home = await _open_in_home(args)
    try:
        auth = _members_in(engine, home)
        user = await _token_user(auth, args.user, home)
        if user is None:
            return 1
        token = await auth.create_long_lived_token(user.id, args.label, lifespan_days=args.days)
    finally:
        await engine.dispose()
    print(token)
    return 0


async def _token_user(auth: AuthStore, name: str, home: Home | None) -> User | None:
    """The user a token command names (a member of the home, in a hub of many); None with the error printed."""
    user = next((user for user in await auth.list_users() if user.name == name), None)
    if user is None and home is None:
        print(f"error: no user named {name!r}; add one with: hub user add {name}", file=sys.stderr)
    elif user is None:
        assert home is not None
        print(f"error: no user named {name!r} has a role in home {home.name} ({home.id}); give them one with: "
              f"hub user add {name} --home {home.id} --role user", file=sys.stderr)
    return user


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
