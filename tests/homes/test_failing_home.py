"""A home that fails to start while the hub runs is retried at every re-read of the homes, and
logged once: again only when its failure changes, and once more when it starts (real PostgreSQL
and Mosquitto; the home's own configuration file is what fails, as a user's typo would)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from hub import bootstrap
from hub.homes import watch
from hub.storage.engine import create_engine
from hub.tenancy.store import TenancyStore
from tests.homes.configs import write_homes_config
from tests.homes.conftest import grant_roles
from tests.pg_roles import make_roles

pytestmark = pytest.mark.services
FAILED = "could not start"


async def _rereads(host: Any, count: int) -> None:
    """Wait until `count` re-reads have finished (the next one began: they run one at a time)."""
    began = time.monotonic()
    while host.watch.rereads < count + 1:
        assert time.monotonic() - began < 15, f"not {count} re-reads"
        await asyncio.sleep(0.05)


def _said(caplog: pytest.LogCaptureFixture, what: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hub.homes.changes" and what in r.getMessage()]


async def test_a_failing_home_is_retried_and_its_failure_logged_once(
        tmp_path: Path, pg_url: str, mosquitto_server: Any, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "REREAD_EVERY", 0.1)  # the safety net's minute, shortened
    caplog.set_level(logging.INFO, logger="hub.homes.changes")
    roles = await make_roles(pg_url)
    made = write_homes_config(tmp_path / "config", roles.storage_yaml(), mosquitto_server.url,
                              [{"id": "flat-a", "tenant": "acme"}], sections="automation:\n")
    # The cellar's own configuration, broken before it is first started.
    cellar = made.folder / "homes" / "cellar"
    cellar.mkdir(parents=True)
    (cellar / "automations.yaml").write_text("[]\n")
    own = cellar / "configuration.yaml"
    own.write_text("automation: !include automations.yaml\nscript: [\n")
    runtime = await bootstrap.start(made.folder, tmp_path / "data", port=0,
                                    checked=await grant_roles(roles, made.folder))
    try:
        host = runtime.homes
        assert host is not None and host.watch is not None
        owner = create_engine(roles.owner_url)
        try:
            await TenancyStore(owner).declare_home("acme", "cellar", "Cellar", topic_root=made.root("cellar"),
                                                   time_zone="UTC", currency="EUR")
        finally:
            await owner.dispose()
        await _rereads(host, host.watch.rereads + 5)
        (first,) = _said(caplog, FAILED)
        assert "acme/cellar" in first and "homes/cellar/configuration.yaml:3: invalid YAML syntax" in first
        assert host.get("cellar") is None and host.get("flat-a") is not None

        # Another mistake is another line, once.
        own.write_text("automation: !include automations.yml\n")
        await _rereads(host, host.watch.rereads + 5)
        assert len(_said(caplog, FAILED)) == 2
        assert "automations.yml" in _said(caplog, FAILED)[1]

        # Fixed: it starts at the next re-read, and the log says it recovered.
        own.write_text("automation: !include automations.yaml\n")
        began = time.monotonic()
        while host.served("cellar") is None:  # started, and so logged (host.get: in the table, maybe starting)
            assert time.monotonic() - began < 15, "the fixed home never started"
            await asyncio.sleep(0.05)
        (recovered,) = _said(caplog, "which failed to start before")
        assert "acme/cellar" in recovered
        await _rereads(host, host.watch.rereads + 2)
        assert len(_said(caplog, FAILED)) == 2
    finally:
        await bootstrap.stop(runtime)
