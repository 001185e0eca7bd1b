"""Scheduled backups run at their cron time on the hub's clock and keep the newest N."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.core.clock import ManualClock
from hub.core.hub import Hub, HubConfig
from hub.ops.scheduled import CONFIG_SCHEMA, BackupScheduler
from hub.storage.engine import create_engine, default_sqlite_url, migrate
from tests.hubs import write_config
from tests.ops.conftest import until


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    data = tmp_path / "data"
    engine = create_engine(default_sqlite_url(data))
    await migrate(engine)
    await engine.dispose()
    config = write_config(tmp_path / "config", "homeassistant:\n")
    hub = Hub(HubConfig(config_dir=config, data_dir=data, raw={}))
    hub.clock = ManualClock(datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    yield hub
    await hub.stop()


async def test_backups_run_at_the_cron_time_and_keep_n(hub: Hub, tmp_path: Path) -> None:
    scheduler = BackupScheduler(hub, CONFIG_SCHEMA({"schedule": "0 3 * * *", "keep": 2, "path": str(tmp_path / "b")}))
    scheduler.start()
    clock: ManualClock = hub.clock
    await clock.advance(2 * 3600)
    assert not (tmp_path / "b").exists()
    for day in (1, 2, 3):
        due = datetime(2026, 3, day, 3, 0, tzinfo=UTC)
        assert scheduler.next_run == due
        await clock.set_time(due)
        await until(lambda due=due: scheduler.next_run != due, f"the backup of day {day} to finish and re-arm")
    names = sorted(p.name for p in (tmp_path / "b").iterdir())
    assert names == ["hub-backup-20260302T030000Z.tar.gz", "hub-backup-20260303T030000Z.tar.gz"]
    assert scheduler.last_error is None
    scheduler.stop()


def test_a_bad_schedule_is_named() -> None:
    with pytest.raises(Exception, match="expected a cron expression such as '0 3 \\* \\* \\*', got 'at three'"):
        CONFIG_SCHEMA({"schedule": "at three"})


async def test_backup_create_service(tmp_path: Path, start_hub: Any) -> None:
    config = write_config(tmp_path / "config", f"backup:\n  keep: 3\n  path: {tmp_path / 'b'}\n")
    runtime = await start_hub(config)
    response = await runtime.hub.services.call("backup", "create", return_response=True)
    assert Path(response["path"]).exists() and Path(response["path"]).parent == tmp_path / "b"
