"""`hub apikey create NAME [--expires-days N]`, `hub apikey list`, `hub apikey revoke ID`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hub.storage.engine import migrate
from hub.storage.scoped import scoped_sessions
from hub.tenancy.store import announce_keys
from integrations.http_ingest.keys import ApiKeyStore

# This integration's tables, which the command may be the first to need.
MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "versions"


async def run_apikey_command(args: argparse.Namespace, open_database: Callable[[argparse.Namespace], Awaitable[Any]]) -> int:
    """Run one `hub apikey` subcommand against the hub's database; return the exit code.

    `open_database` opens it in the home the command acts in (`--home` in a hub of many homes):
    the key is made, listed and revoked in that home's rows only.
    """
    engine, auth = await open_database(args)
    store = ApiKeyStore(scoped_sessions(engine, auth.scope))
    try:
        await migrate(engine, [MIGRATIONS])
        if args.apikey_command == "create":
            if args.expires_days is not None and args.expires_days <= 0:
                print("error: --expires-days must be positive", file=sys.stderr)
                return 1
            if args.backfill_days <= 0:
                print("error: --backfill-days must be positive", file=sys.stderr)
                return 1
            try:
                raw, key = await store.create(args.name, args.expires_days, device=args.device, backfill_days=args.backfill_days)
            except ValueError as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
            await announce_keys(engine, auth.scope.home_id)  # a running hub of many homes routes it at once
            expiry = f"expires {key.expires_at:%Y-%m-%d}" if key.expires_at else "no expiry"
            print(f"Created API key {key.id} ({key.prefix}...) for device '{key.device}' ({expiry}, backfill "
                  f"{key.backfill_days:g} days). Store it now; it is not shown again:", file=sys.stderr)
            print(raw)
            return 0
        if args.apikey_command == "list":
            for key in await store.list():
                status = "revoked" if key.revoked_at else f"expires {key.expires_at:%Y-%m-%d}" if key.expires_at else "no expiry"
                used = f"used {key.usage_count}x, last {key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
                print(f"{key.id}  {key.prefix}...  {key.name:<24}  device {key.device or '(first use)':<16}  {status:<18}  {used}")
            return 0
        if not await store.revoke(args.key_id):
            print(f"error: no live API key with id {args.key_id!r}", file=sys.stderr)
            return 1
        print(f"Revoked API key {args.key_id}.")
        return 0
    finally:
        await engine.dispose()
