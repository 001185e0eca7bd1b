"""`hub token create|list|revoke` and `hub auth rotate-key|bans|unban`: access tokens, the keys that
sign them and the addresses banned for failed logins, from the shell."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from hub.cli_db import data_dir_of, members_of, open_default

if TYPE_CHECKING:
    from hub.auth.store import AuthStore, User
    from hub.tenancy.store import Home


async def run_token(args: argparse.Namespace) -> int:
    """Run a `hub token` command and return its exit code."""
    handlers = {"create": _token_create, "list": _token_list, "revoke": _token_revoke}
    return await handlers[args.token_command](args)


async def run_auth(args: argparse.Namespace) -> int:
    """Run a `hub auth` command and return its exit code."""
    handlers = {"rotate-key": _auth_rotate_key, "bans": _auth_bans, "unban": _auth_unban}
    return await handlers[args.auth_command](args)


async def _auth_rotate_key(args: argparse.Namespace) -> int:
    from hub.auth.access import ACCESS_TOKEN_LIFETIME
    from hub.auth.signing_keys import KeyFile
    from hub.config import load_configuration
    from hub.storage.private_files import prepare_data_dir

    config = load_configuration(args.config)
    lifetime = int((config.get("http") or {}).get("access_token_lifetime", ACCESS_TOKEN_LIFETIME))
    data_dir = data_dir_of(args)
    prepare_data_dir(data_dir)
    key_file = KeyFile.in_data_dir(data_dir)
    ring = key_file.rotate(time.time(), lifetime)
    print(f"New token signing key {ring.current.kid} in {key_file.path}. Tokens signed with the previous key "
          f"stay valid for {lifetime} s; a running hub picks the new key up within seconds.")
    return 0


async def _auth_bans(args: argparse.Namespace) -> int:
    engine, auth = await open_default(args)
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
    engine, auth = await open_default(args)
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
    async with members_of(args) as (auth, home):
        user = await _token_user(auth, args.user, home)
        if user is None:
            return 1
        for info in await auth.list_tokens(user.id):
            status = "revoked" if info.revoked_at else f"expires {info.expires_at:%Y-%m-%d}" if info.expires_at else "no expiry"
            print(f"{info.id}  {info.kind:<10}  {info.label or '-':<24}  created {info.created_at:%Y-%m-%d}  {status}")
    return 0


async def _token_revoke(args: argparse.Namespace) -> int:
    async with members_of(args) as (auth, home):
        revoked = await auth.revoke_token(args.token_id)
    if not revoked:
        where = "" if home is None else f" in home {home.name} ({home.id})"
        print(f"error: no live token with id {args.token_id!r}{where}", file=sys.stderr)
        return 1
    print(f"Revoked token {args.token_id}.")
    return 0


async def _token_create(args: argparse.Namespace) -> int:
    async with members_of(args) as (auth, home):
        user = await _token_user(auth, args.user, home)
        if user is None:
            return 1
        token = await auth.create_long_lived_token(user.id, args.label, lifespan_days=args.days)
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
