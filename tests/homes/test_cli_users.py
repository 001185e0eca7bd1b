"""`hub user` and `hub token` in a hub of many homes (real PostgreSQL, as the operator runs them):
`user list` and `token create|list|revoke` act in the home `--home` names; `user passwd|unlock`
act on the tenant's user (the name says which; `--tenant`/`--home` are checked); `user remove`
takes one home's role with `--home`, and removes the user from the tenant without it, refused
while that is ambiguous (roles in several homes) or would leave a home without an owner."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import sys
from pathlib import Path

import pytest

from hub import cli
from hub.auth.store import TOKEN_REFRESH, hash_token
from hub.storage.engine import create_engine
from hub.tenancy.login import find_login, token_scope
from hub.tenancy.store import TenancyStore
from hub.tenancy.users import home_auth
from tests.homes.configs import write_homes_config
from tests.homes.conftest import grant_roles
from tests.pg_roles import make_roles

pytestmark = pytest.mark.services
PASSWORD = "correct horse battery\n"


def _run(where: list[str], *args: str, stdin: str = "") -> tuple[int, str, str]:
    """Run `hub ARGS` through its entry point in this process; return the code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main([*args, *where])
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


async def _ok(where: list[str], *args: str, stdin: str = "") -> str:
    code, out, err = await asyncio.to_thread(_run, where, *args, stdin=stdin)
    assert code == 0, err
    return out


async def _refused(where: list[str], *args: str) -> str:
    code, _out, err = await asyncio.to_thread(_run, where, *args)
    assert code == 1, err
    assert "Traceback" not in err
    return err


def _names(listing: str) -> dict[str, str]:
    """NAME -> ROLE of `hub user list`."""
    lines = listing.splitlines()
    header = next((n for n, line in enumerate(lines) if line.startswith("NAME")), len(lines))
    return {row[0]: row[1] for row in (line.split() for line in lines[header + 1:]) if row}


async def test_users_and_tokens_act_in_the_home_named_and_on_the_tenants_user(tmp_path: Path, pg_url: str) -> None:
    roles = await make_roles(pg_url)
    made = write_homes_config(tmp_path / "config", roles.storage_yaml(), "mqtt://127.0.0.1:1",
                              [{"id": "flat-a", "tenant": "acme"}])
    await grant_roles(roles, made.folder)
    where = ["-c", str(made.folder), "--data", str(tmp_path / "data")]
    owner = create_engine(roles.owner_url)
    try:
        store = TenancyStore(owner)
        await store.add_tenant("acme", None)
        await store.add_tenant("zenith", None)
        flat_a = await store.add_home("acme", "Flat A", topic_root=made.root("a"))
        flat_b = await store.add_home("acme", "Flat B", topic_root=made.root("b"))
        villa = await store.add_home("zenith", "Villa", topic_root=made.root("villa"))
        for name, home, role in (("alice", flat_a, "owner"), ("alice", flat_b, "user"), ("bob", flat_a, "owner"),
                                 ("carol", villa, "owner")):
            await _ok(where, "user", "add", name, "--home", home.id, "--role", role, "--password-stdin", stdin=PASSWORD)

        # user list: the users with a role in the home, with that role there.
        assert _names(await _ok(where, "user", "list", "--home", flat_a.id)) == {"alice": "owner", "bob": "owner"}
        assert _names(await _ok(where, "user", "list", "--home", "Flat B")) == {"alice": "user"}
        err = await _refused(where, "user", "list")
        assert f"error: this hub serves many homes: name one with --home (homes: {flat_a.id} (Flat A, acme)" in err

        # Tokens are made in one home and act there: listed and revoked there only.
        token = (await _ok(where, "token", "create", "alice", "--name", "laptop", "--home", flat_b.id)).strip()
        found = await token_scope(owner, hash_token(token))
        assert found is not None and found[0] == flat_b.scope
        listed = await _ok(where, "token", "list", "alice", "--home", flat_b.id)
        token_id = listed.split()[0]
        assert "laptop" in listed
        assert "laptop" not in await _ok(where, "token", "list", "alice", "--home", flat_a.id)
        err = await _refused(where, "token", "create", "carol", "--name", "x", "--home", flat_a.id)
        assert f"error: no user named 'carol' has a role in home Flat A ({flat_a.id})" in err, err
        err = await _refused(where, "token", "revoke", token_id, "--home", flat_a.id)
        assert f"error: no live token with id {token_id!r} in home Flat A ({flat_a.id})" in err, err
        err = await _refused(where, "token", "list", "alice")
        assert "name one with --home" in err
        await _ok(where, "token", "revoke", token_id, "--home", flat_b.id)
        assert "revoked" in await _ok(where, "token", "list", "alice", "--home", flat_b.id)

        # passwd: the tenant's user, whatever home; every home's logins end.
        alice = await find_login(owner, "alice")
        assert alice is not None
        _raw, session_b = await home_auth(owner, flat_b).create_refresh_token(alice.id)
        err = await _refused(where, "user", "passwd", "alice", "--tenant", "zenith", "--password-stdin")
        assert "error: --tenant zenith: alice is a user of tenant acme, not of zenith" in err, err
        err = await _refused(where, "user", "passwd", "alice", "--home", villa.id, "--password-stdin")
        assert f"error: --home {villa.id}: alice has no role in home Villa ({villa.id})" in err, err
        printed = await _ok(where, "user", "passwd", "alice", "--password-stdin", stdin="a new long password\n")
        assert "New password set for alice; their login sessions have ended in every home of tenant acme" in printed
        assert await home_auth(owner, flat_a).authenticate("alice", "a new long password") is not None
        tokens = await home_auth(owner, flat_b).list_tokens(alice.id)
        assert [t.revoked_at is not None for t in tokens if t.id == session_b.id and t.kind == TOKEN_REFRESH] == [True]

        # unlock: the failed logins of the name, in no home.
        throttle = home_auth(owner, flat_a).throttle
        await throttle.failed("127.0.0.1", "alice")
        printed = await _ok(where, "user", "unlock", "alice")
        assert re.search(r"cleared [1-9]\d* failed-login counts", printed), printed
        err = await _refused(where, "user", "unlock", "nobody")
        assert "error: no user named 'nobody' in any tenant" in err

        # remove: ambiguous without --home while the user has several homes; one home's role with it.
        err = await _refused(where, "user", "remove", "alice")
        assert (f"error: alice has a role in 2 homes ({flat_a.id} (Flat A, owner), {flat_b.id} (Flat B, user)): "
                "name the one they leave with --home, or pass --all-homes to remove the user from tenant acme") in err
        printed = await _ok(where, "user", "remove", "alice", "--home", "Flat B", "--tenant", "acme")
        assert f"alice left home Flat B ({flat_b.id})" in printed and "they keep their role in 1 other home" in printed
        assert _names(await _ok(where, "user", "list", "--home", flat_b.id)) == {}
        assert _names(await _ok(where, "user", "list", "--home", flat_a.id)) == {"alice": "owner", "bob": "owner"}
        err = await _refused(where, "user", "remove", "carol")
        assert f"error: carol is the last owner of home Villa ({villa.id})" in err, err
        await _ok(where, "user", "remove", "alice")
        assert await find_login(owner, "alice") is None
        assert _names(await _ok(where, "user", "list", "--home", flat_a.id)) == {"bob": "owner"}
        assert await find_login(owner, "carol") is not None
    finally:
        await owner.dispose()
