"""Scheduled backups with retention, on the hub's clock, and the `backup.create` service.

    backup:
      schedule: "0 3 * * *"     # cron, in the hub's time zone (default: 03:00 every day)
      keep: 7                   # archives kept in path; older ones are deleted
      path: /backups            # default: <data dir>/backups
      history: false            # also archive the recorder's history (all of it)
      include_secrets: false
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from croniter import croniter

from hub import hookimpl
from hub.ops.backup import BackupRequest, create_backup, prune

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.core.services import ServiceCall

_LOGGER = logging.getLogger(__name__)


def _cron(value: Any) -> str:
    if not isinstance(value, str) or not croniter.is_valid(value):
        message = f"expected a cron expression such as '0 3 * * *', got {value!r}"
        raise vol.Invalid(message)
    return value


CONFIG_SCHEMA = vol.All(
    lambda value: value or {},
    vol.Schema(
        {
            vol.Optional("schedule", default="0 3 * * *"): _cron,
            vol.Optional("keep", default=7): vol.All(int, vol.Range(min=1)),
            vol.Optional("path"): str,
            vol.Optional("history", default=False): bool,
            vol.Optional("include_secrets", default=False): bool,
        }
    ),
)


class BackupScheduler:
    """Make an archive at every cron time and keep the newest `keep`."""

    def __init__(self, hub: Hub, config: dict[str, Any]) -> None:
        self.hub = hub
        self.config = config
        self.clock = hub.clock
        data_dir = Path(hub.config.data_dir or ".")
        self.folder = Path(config["path"]) if config.get("path") else data_dir / "backups"
        self.next_run: datetime | None = None
        self.last_error: str | None = None
        self._cancel: Any = None

    def start(self) -> None:
        """Arm the timer for the next cron time."""
        now = self.clock.now()
        self.next_run = croniter(self.config["schedule"], now).get_next(datetime)
        self._cancel = self.clock.call_at(self.next_run.timestamp(), self._due)

    def stop(self) -> None:
        """Disarm the timer."""
        if self._cancel is not None:
            self._cancel()
            self._cancel = None

    def _due(self) -> None:
        self.hub.create_task(self._run_and_rearm(), "scheduled backup")

    async def _run_and_rearm(self) -> None:
        try:
            await self.run_once()
        except Exception as err:  # noqa: BLE001 - a failed backup is logged and retried next time
            self.last_error = str(err)
            _LOGGER.error("Scheduled backup failed: %s", err)
        finally:
            if self._cancel is not None:
                self.start()

    async def run_once(self) -> Path:
        """Make one archive now, prune old ones, and return the archive's path."""
        from hub.bootstrap import database_url  # noqa: PLC0415 - bootstrap imports this module's package

        config = self.hub.config
        stamp = datetime.fromtimestamp(self.clock.time(), UTC).strftime("%Y%m%dT%H%M%SZ")
        out = self.folder / f"hub-backup-{stamp}.tar.gz"
        data_dir = Path(config.data_dir or ".")
        request = BackupRequest(
            config_dir=Path(config.config_dir or "."),
            data_dir=data_dir,
            out=out,
            history=self.config["history"],
            include_secrets=self.config["include_secrets"],
        )
        await create_backup(request, config.raw, database_url(config.raw, data_dir))
        deleted = prune(self.folder, self.config["keep"])
        self.last_error = None
        _LOGGER.info("Backup written to %s (%d older deleted)", out, len(deleted))
        return out


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Arm the backup schedule and offer backup.create."""
    scheduler = BackupScheduler(hub, CONFIG_SCHEMA(config))
    scheduler.start()
    hub.on_stop(scheduler.stop)

    async def create(call: ServiceCall) -> dict[str, Any]:
        return {"path": str(await scheduler.run_once())}

    from hub.core.services import SupportsResponse  # noqa: PLC0415

    hub.services.register(
        "backup",
        "create",
        create,
        supports_response=SupportsResponse.OPTIONAL,
    )  # described in hub/ops/services/backup.yaml
