"""Signing keys and data at rest: another local user cannot read them, forged tokens are refused."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from hub import bootstrap
from hub.auth.signing_keys import KEY_FILE
from tests.hubs import write_config

from .conftest import Api, cli

ISSUER = "powerhub"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def token(secret: str, kid: str, user_id: str, family: str, iat: float, exp: float) -> str:
    claims = {"iss": ISSUER, "sub": user_id, "fam": family, "iat": int(iat), "exp": int(exp)}
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})


async def status(api: Api, bearer: str, path: str = "/api/config") -> int:
    async with api.session.get(f"{api.url}{path}", headers={"Authorization": f"Bearer {bearer}"}) as response:
        return response.status


def read_as_nobody(path: Path) -> subprocess.CompletedProcess[str]:
    """Try to read a file as an unprivileged user of this machine."""
    return subprocess.run(["cat", str(path)], user="nobody", capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def open_parent() -> Any:
    """A folder every user may enter (pytest's own tmp_path is 0700, which would hide everything)."""
    folder = Path(tempfile.mkdtemp(prefix="hub-at-rest-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


async def test_key_and_databases_are_for_the_hub_user_only(tmp_path: Path, start_hub: Any, open_parent: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the attack as another user needs root to switch to 'nobody'")
    # The control: a file the umask makes 0644 next to the data dir is readable by 'nobody'.
    control = open_parent / "control.txt"
    control.write_text("readable")
    os.chmod(control, 0o644)
    assert (await asyncio.to_thread(read_as_nobody, control)).stdout == "readable"
    config = write_config(tmp_path / "config", "homeassistant:\n  name: At rest\n")
    runtime = await start_hub(config, open_parent / "data")
    data_dir = runtime.hub.config.data_dir
    key_file = data_dir / KEY_FILE
    assert mode(data_dir) == 0o700
    assert mode(key_file.parent) == 0o700
    assert mode(key_file) == 0o600
    for name in ("hub.db", "hub.db-wal", "hub.db-shm"):
        if (data_dir / name).exists():
            assert mode(data_dir / name) == 0o600, name
    # The key is nowhere in the database any more.
    secret = runtime.hub.auth.access.ring.current.secret
    for name in ("hub.db", "hub.db-wal"):
        if (data_dir / name).exists():
            assert secret.encode() not in (data_dir / name).read_bytes()
    # The attack: another user of this machine tries to read the key and the database.
    for target in (key_file, data_dir / "hub.db"):
        attempt = await asyncio.to_thread(read_as_nobody, target)
        assert attempt.returncode != 0 and "Permission denied" in attempt.stderr, (target, attempt.stdout)


async def test_tokens_from_other_keys_or_too_long_lived_are_refused(api: Api) -> None:
    auth = api.hub.auth
    user = api.users["owner"]
    _, session = await auth.create_refresh_token(user.id)
    now = time.time()
    ring = auth.access.ring
    genuine = auth.access.issue(user.id, session.family_id)
    assert await status(api, genuine) == 200
    # A key guessed or read from somewhere else: no key id of ours, or ours with another secret.
    assert await status(api, token("x" * 64, ring.current.kid, user.id, session.family_id, now, now + 60)) == 401
    assert await status(api, token("x" * 64, "made-up", user.id, session.family_id, now, now + 60)) == 401
    # Our real key, but a lifetime we never issue: 31 years, or 15 min + 1 s.
    years = token(ring.current.secret, ring.current.kid, user.id, session.family_id, now, now + 31 * 365 * 86400)
    assert await status(api, years) == 401
    longer = token(ring.current.secret, ring.current.kid, user.id, session.family_id, now, now + 901)
    assert await status(api, longer) == 401
    # Issued in the future (so it would live on after the real ones expire).
    future = token(ring.current.secret, ring.current.kid, user.id, session.family_id, now + 3600, now + 3600 + 60)
    assert await status(api, future) == 401
    # No session: access tokens always carry theirs.
    bare = jwt.encode({"iss": ISSUER, "sub": user.id, "iat": int(now), "exp": int(now) + 60},
                      ring.current.secret, algorithm="HS256", headers={"kid": ring.current.kid})
    assert await status(api, bare) == 401
    # alg=none and HS256 keyed with the key id are refused too.
    unsigned = jwt.encode({"iss": ISSUER, "sub": user.id, "fam": session.family_id, "iat": int(now),
                           "exp": int(now) + 60}, None, algorithm="none", headers={"kid": ring.current.kid})
    assert await status(api, unsigned) == 401


async def test_rotate_key_keeps_the_previous_key_for_one_token_lifetime(api: Api) -> None:
    auth = api.hub.auth
    user = api.users["user"]
    _, session = await auth.create_refresh_token(user.id)
    before = auth.access.issue(user.id, session.family_id)
    old_kid = auth.access.ring.current.kid
    config, data = api.hub.config.config_dir, api.hub.config.data_dir
    code, out = await asyncio.to_thread(cli, "auth", "rotate-key", "-c", str(config), "--data", str(data))
    assert code == 0 and "New token signing key" in out
    assert mode(data / KEY_FILE) == 0o600
    await auth.poll()  # what the running hub does every 2 s
    assert auth.access.ring.current.kid != old_kid
    after = auth.access.issue(user.id, session.family_id)
    assert jwt.get_unverified_header(after)["kid"] == auth.access.ring.current.kid
    assert await status(api, before) == 200 and await status(api, after) == 200
    # One access-token lifetime later the previous key verifies nothing.
    from hub.core.clock import ManualClock

    auth.access.clock = ManualClock(time.time() + auth.access.lifetime + 1)
    assert auth.access.verify(before) is None
    late = auth.access.issue(user.id, session.family_id)
    assert auth.access.verify(late) is not None


async def test_an_older_install_is_tightened_at_start(tmp_path: Path, start_hub: Any, caplog: Any) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "history.db").write_bytes(b"")
    os.chmod(data / "history.db", 0o644)
    (data / "spool").mkdir()
    os.chmod(data / "spool", 0o755)
    (data / "spool" / "0001.batch").write_bytes(b"x")
    os.chmod(data / "spool" / "0001.batch", 0o664)
    config = write_config(tmp_path / "config", "homeassistant:\n  name: Old\n")
    with caplog.at_level(logging.WARNING, logger="hub.storage.private_files"):
        await start_hub(config, data)
    assert mode(data) == 0o700 and mode(data / "spool") == 0o700
    assert mode(data / "history.db") == 0o600 and mode(data / "spool" / "0001.batch") == 0o600
    assert mode(data / "hub.db") == 0o600 and mode(data / KEY_FILE) == 0o600
    assert any("Tightened the permissions of 4 files and folders" in r.getMessage() for r in caplog.records)


async def test_a_loose_key_file_is_tightened_and_named(tmp_path: Path, caplog: Any) -> None:
    config = write_config(tmp_path / "config", "")
    runtime = await bootstrap.start(config, tmp_path / "data", port=0)
    await bootstrap.stop(runtime)
    key_file = tmp_path / "data" / KEY_FILE
    os.chmod(key_file, 0o644)
    with caplog.at_level(logging.WARNING):
        runtime = await bootstrap.start(config, tmp_path / "data", port=0)
        await bootstrap.stop(runtime)
    assert mode(key_file) == 0o600
