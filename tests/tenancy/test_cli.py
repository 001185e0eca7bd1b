"""`hub tenant|home add|list|remove` and `hub db grant-app-role`,
as an administrator runs them (the command's own entry point, output and exit code)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.cli import main
from hub.storage.engine import create_engine
from hub.storage.scoped import scoped_sessions
from hub.tenancy.store import TenancyStore

from .conftest import RlsDatabase


class Cli:
    def __init__(self, config: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.location = ["-c", str(config), "--data", str(data)]
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*args, *self.location])
        out, err = self.capsys.readouterr()
        return code, out, err


def _cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], storage: str = "") -> Cli:
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text("homeassistant:\n  name: Homes\n" + storage)
    return Cli(config, tmp_path / "data", capsys)


def test_tenants_and_homes_from_the_shell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub = _cli(tmp_path, capsys)
    assert hub("tenant", "add", "acme", "--plan", "starter", "--trial-days", "30")[0] == 0
    code, _, err = hub("tenant", "add", "acme")
    assert code == 1 and "a tenant named 'acme' exists already" in err
    code, _, err = hub("tenant", "add", "initech", "--plan", "gold")
    assert code == 1 and "unknown plan 'gold'; expected one of free, starter, professional, industrial" in err

    code, out, _ = hub("home", "add", "cabin", "--tenant", "acme", "--topic-root", "cabin/", "--time-zone",
                       "Europe/Amsterdam", "--currency", "sek")
    assert code == 0 and "Added home cabin to tenant acme" in out
    for flags, expected in (
        (["--topic-root", "cabin/#/"], "topic root: 'cabin/#/' holds a wildcard"),
        (["--topic-root", "cabin"], 'must end with "/"'),
        (["--time-zone", "Mars/Olympus"], "time zone: expected an IANA time zone"),
        (["--currency", "euro"], "currency: expected an ISO 4217 currency code"),
    ):
        code, _, err = hub("home", "add", "shed", "--tenant", "acme", *flags)
        assert code == 1 and expected in err, err
    code, _, err = hub("home", "add", "cabin", "--tenant", "acme")
    assert code == 1 and "tenant 'acme' has a home named 'cabin' already" in err
    code, _, err = hub("home", "add", "cabin", "--tenant", "nobody")
    assert code == 1 and "no tenant 'nobody' (tenants: acme, default)" in err

    code, out, _ = hub("tenant", "list")
    acme = next(line for line in out.splitlines() if line.startswith("acme"))
    assert "starter" in acme and "active" in acme and " 1 " in acme
    code, out, _ = hub("home", "list", "--tenant", "acme")
    assert "cabin" in out and "cabin/" in out and "Europe/Amsterdam" in out and "SEK" in out
    assert "default" not in out

    assert hub("home", "add", "flat", "--tenant", "acme")[0] == 0
    # A hub of one home (no `homes:`) has no home to name: --home is refused, whatever the store holds.
    code, _, err = hub("user", "add", "ann", "--tenant", "acme", "--home", "cabin", "--role", "admin")
    assert code == 1 and "--home cabin: this hub serves one home (no `homes:` section)" in err

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'hub.db'}")

    async def check() -> None:
        store = TenancyStore(engine)
        homes = {h.name: h for h in await store.homes("acme")}
        sessions = scoped_sessions(engine, homes["cabin"].scope)
        # A device in the cabin: its removal is refused without --force.
        from hub.registry.devices import DeviceRegistry

        await DeviceRegistry(sessions).get_or_create(integration="mqtt", identifiers=[("mqtt", "meter")])
        await engine.dispose()

    asyncio.run(check())
    code, _, err = hub("home", "remove", "cabin", "--tenant", "acme")
    assert code == 1 and "home 'cabin' has 1 device(s); remove them first, or pass --force" in err
    code, _, err = hub("tenant", "remove", "acme")
    assert code == 1 and "tenant 'acme' still has homes (cabin, flat)" in err
    assert hub("home", "remove", "cabin", "--tenant", "acme", "--force")[0] == 0
    code, _, err = hub("home", "remove", "default", "--tenant", "default")
    assert code == 1 and "cannot be removed" in err
    assert hub("tenant", "remove", "acme", "--force")[0] == 0
    code, out, _ = hub("tenant", "list")
    assert "acme" not in out and "default" in out


def _with_stdin(hub: Cli, text: str, *args: str) -> tuple[int, str, str]:
    import io
    import sys

    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        return hub(*args)
    finally:
        sys.stdin = saved


@pytest.mark.services
def test_grant_app_role_and_its_refusals(rls_db: RlsDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub = _cli(tmp_path, capsys, f"storage:\n  db_url: {rls_db.app_url}\n  migrate_url: {rls_db.owner_url}\n")
    code, out, err = hub("db", "grant-app-role", rls_db.app_role)
    assert code == 0 and "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES" in out, err
    code, _, err = hub("db", "grant-app-role", rls_db.owner_role)
    assert code == 1 and "is the owner" in err
    code, _, err = hub("db", "grant-app-role", "postgres")
    assert code == 1 and "is a superuser" in err
    code, _, err = hub("db", "grant-app-role", "no_such_role")
    assert code == 1 and "does not exist; create it first" in err
    # The owner administers every tenant, on PostgreSQL under FORCE ROW LEVEL SECURITY.
    code, out, _ = hub("home", "list")
    assert {"acme-home1", "acme-home2", "globex-home1", "globex-home2"} <= set(out.split())
    code, _, err = hub("home", "remove", "acme-home1", "--tenant", "acme")
    assert code == 1 and "has 1 device(s)" in err
    assert hub("home", "remove", "acme-home1", "--tenant", "acme", "--force")[0] == 0

    async def rows_left() -> dict[str, int]:
        from sqlalchemy import text

        app = create_engine(rls_db.app_url)  # this loop's own: the fixture's engine is another loop's
        counts = {}
        for name, scope in rls_db.homes.items():
            async with scoped_sessions(app, scope)() as session:
                counts[name] = (await session.execute(text("SELECT count(*) FROM entities"))).scalar_one()
        await app.dispose()
        return counts

    assert asyncio.run(rows_left()) == {"acme-home1": 0, "acme-home2": 1, "globex-home1": 1, "globex-home2": 1}
