"""The `schedule` integration: Home Assistant's weekly schedules, and sequences run on cron or intervals.

An item with weekday blocks (`monday: [{from: "07:00", to: "09:00"}]`) is Home Assistant's
schedule helper (weekly_schedule.py: `schedule.<id>` is on inside a block). Schedules made in
the UI or through /api/v1/schedules are kept in `<data dir>/schedule` (schedule_store.py).
An item with `cron` or `interval` and a `sequence` is the hub's own:

```yaml
schedule:
  nightly_report:
    cron: "0 21 * * *"          # or  interval: {minutes: 15}
    time_zone: Europe/Amsterdam  # default: the hub's
    missed: run_once             # after downtime: skip (default) or run_once
    sequence:
      - action: notify.notify
        data: {message: "Report"}
```

Times are computed on the hub's clock in the schedule's time zone from wall-clock values, so a
07:00 schedule stays at 07:00 local across DST changes. Each schedule is an entity
(`schedule.<name>`, state = next run) whose restored `last_run` tells, after a restart, whether
runs were missed while the hub was down; `missed: run_once` then runs the sequence once.
The hub's own clock drives the timers (not a separate scheduler thread), so tests move time
with a manual clock and the timers share the event loop with everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from croniter import croniter

from automations.config import InvalidConfig, normalize_actions
from automations.loader import build_each, reload_section
from automations.schedule_store import STORE, ScheduleStore
from automations.script import Script
from automations.timeutil import to_timedelta
from automations.weekly_schedule import WeeklyScheduleEntity, check, is_weekly
from hub import hookimpl
from hub.core.clock import zone
from hub.core.context import Context
from hub.core.entity import Entity
from hub.core.runtime import HubKey
from hub.core.services import ServiceCall

if TYPE_CHECKING:
    from aiohttp import web

    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DOMAIN = "schedule"
SCHEDULES: HubKey[dict[str, ScheduleEntity | WeeklyScheduleEntity]] = HubKey("schedule")
CONFIG_SCHEMA = vol.Any(None, Mapping)
MISSED = ("skip", "run_once")


class ScheduleEntity(Entity):
    """schedule.<name>: its state is the next run."""

    domain = "schedule"

    # Built for one hub, under an entity_id known from the start.
    hub: Hub
    entity_id: str

    def __init__(self, hub: Hub, object_id: str, config: Mapping[str, Any]) -> None:
        if not isinstance(config, Mapping):
            raise InvalidConfig("expected a mapping with cron or interval and a sequence", config)
        self.hub = hub
        self.config = config
        self.unique_id = f"schedule_{object_id}"
        self.entity_id = f"schedule.{object_id}"
        self.name = str(config.get("name") or object_id.replace("_", " "))
        self.clock = hub.clock
        self.cron = config.get("cron")
        self.interval = to_timedelta(config["interval"], node=config, key="interval") if config.get("interval") is not None else None
        if (self.cron is None) == (self.interval is None):
            raise InvalidConfig("give exactly one of 'cron' or 'interval'", config)
        if self.cron is not None and (not isinstance(self.cron, str) or not croniter.is_valid(self.cron)):
            raise InvalidConfig(f"invalid cron expression {self.cron!r}", config, "cron")
        if self.interval is not None and self.interval.total_seconds() <= 0:
            raise InvalidConfig("interval must be positive", config, "interval")
        self.tz = zone(str(config["time_zone"])) if config.get("time_zone") else self.clock.time_zone
        self.missed = config.get("missed", "skip")
        if self.missed not in MISSED:
            raise InvalidConfig(f"invalid missed policy {self.missed!r} (expected skip or run_once)", config, "missed")
        if "sequence" not in config:
            raise InvalidConfig("required key not provided: 'sequence'", config, "sequence")
        sequence = normalize_actions(config["sequence"])
        self.script = Script(hub, sequence, name=self.name, domain=DOMAIN, item_id=object_id, config=config, mode=config.get("mode", "single"))
        self.last_run: datetime | None = None
        self.next_run: datetime | None = None
        self.enabled = True
        self._cancel: Callable[[], None] | None = None

    def next_after(self, moment: datetime) -> datetime:
        """The first run strictly after moment."""
        if self.cron is not None:
            return croniter(self.cron, moment.astimezone(self.tz)).get_next(datetime)
        assert self.interval is not None
        anchor = self.last_run or moment
        step = self.interval.total_seconds()
        periods = max(1, int((moment - anchor).total_seconds() // step) + 1)
        return anchor + timedelta(seconds=periods * step)

    def state_value(self) -> Any:
        """The next run (ISO)."""
        return self.next_run.isoformat() if self.next_run else None

    def state_attributes(self) -> dict[str, Any]:
        """last_run, cron or interval, missed policy, friendly_name."""
        attrs: dict[str, Any] = {"last_run": self.last_run.isoformat() if self.last_run else None, "missed": self.missed, "friendly_name": self.name}
        if not self.enabled:
            attrs["enabled"] = False
        if self.cron is not None:
            attrs["cron"] = self.cron
        elif self.interval is not None:
            attrs["interval"] = self.interval.total_seconds()
        return attrs

    async def added_to_hub(self) -> None:
        """Honour the missed-run policy, then arm the next run."""
        restored = self.hub.states.get(self.entity_id)
        now = self.clock.now()
        if restored is not None and restored.attributes.get("last_run"):
            try:
                self.last_run = datetime.fromisoformat(restored.attributes["last_run"])
            except ValueError:
                self.last_run = None
        if self.last_run is not None and self.next_after(self.last_run) <= now:
            if self.missed == "run_once":
                _LOGGER.info("%s: runs were missed while the hub was down; running once now", self.name)
                self._run(now)
            else:
                _LOGGER.info("%s: runs were missed while the hub was down; skipped", self.name)
        self._arm()

    def set_enabled(self, enabled: bool) -> None:
        """Switch the schedule on or off by hand: off, it does not run (and has no next run)."""
        self.enabled = enabled
        if enabled:
            self._arm()
        else:
            if self._cancel is not None:
                self._cancel()
                self._cancel = None
            self.next_run = None
        self.write_state()

    def _arm(self) -> None:
        if self._cancel is not None:
            self._cancel()
        if not self.enabled:
            self._cancel = None
            return
        self.next_run = self.next_after(self.clock.now().astimezone(self.tz))
        self._cancel = self.clock.call_at(self.next_run.timestamp(), self._fire)

    def _fire(self) -> None:
        self._cancel = None
        self._run(self.clock.now())
        self._arm()
        self.write_state()

    def _run(self, when: datetime) -> None:
        self.last_run = when.astimezone(UTC)
        self.script.start({"schedule": {"name": self.name, "scheduled": self.next_run, "now": when}}, Context())

    async def will_remove_from_hub(self) -> None:
        """Disarm and stop runs."""
        if self._cancel is not None:
            self._cancel()
        await self.script.stop()


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """The schedule.* entities the section makes."""
    return [f"{DOMAIN}.{key}" for key in (config or {})]


def _build(hub: Hub, config: Any, key: str) -> ScheduleEntity | WeeklyScheduleEntity:
    if not is_weekly(config):
        return ScheduleEntity(hub, key, config)
    parsed, errors = check(config)
    if errors:
        first = errors[0].pointer.split("/")[1] if errors[0].pointer else ""
        raise InvalidConfig("; ".join(f"{e.pointer.lstrip('/') or key}: {e.message}" for e in errors), config, first)
    return WeeklyScheduleEntity(hub, key, parsed, editable=False)


async def load(hub: Hub, section: Any) -> None:
    """(Re)build the schedules of configuration.yaml; stored ones stay, switched-off ones stay off."""
    current: dict[str, Any] = hub.runtime.setdefault(SCHEDULES, dict)
    for entity in list(current.values()):
        await hub.entities.remove(str(entity.entity_id))
    current.clear()
    store = hub.runtime.get(STORE)
    items = [(str(k), v) for k, v in (section or {}).items()]
    built, _issues = build_each(hub, DOMAIN, items, lambda config, raw, key: _build(hub, config, key))
    for key, entity in built:
        if store is not None and key in store.stored:
            _LOGGER.error("schedule.%s of configuration.yaml is skipped: a schedule made in the UI has that id", key)
            continue
        if store is not None and key in store.disabled:
            entity.enabled = False
        await hub.entities.add(entity, DOMAIN)
        current[key] = entity


@hookimpl
def check_integration_config(hub: Hub, config: Any) -> list[Any]:
    """Build every schedule of configuration.yaml (without running it) and return the problems found."""
    items = [(str(k), v) for k, v in (config or {}).items()]
    _, issues = build_each(hub, DOMAIN, items, lambda conf, raw, key: _build(hub, conf, key), check=True)
    return issues


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Load the schedules (configuration.yaml, then stored) and register schedule.reload and schedule.run_now."""
    await load(hub, config)
    store = ScheduleStore(hub, hub.runtime[SCHEDULES])
    hub.runtime[STORE] = store
    await store.load()

    async def reload(call: ServiceCall) -> None:
        await load(hub, reload_section(hub, DOMAIN))

    async def run_now(call: ServiceCall) -> None:
        for entity in hub.entities.entities_for(call, DOMAIN):
            if isinstance(entity, ScheduleEntity):
                entity._run(hub.clock.now())  # noqa: SLF001
                entity.write_state(call.context)

    hub.services.register(DOMAIN, "reload", reload, vol.Schema({}))
    hub.services.register(DOMAIN, "run_now", run_now, vol.Schema({vol.Optional("entity_id"): vol.Any(str, [str])}))


@hookimpl
def register_websocket_commands(hub: Hub, register: Any) -> None:
    """Home Assistant's schedule/list, create, update and delete (schedules_ws.py)."""
    from automations.schedules_ws import register as register_schedule_commands  # noqa: PLC0415

    register_schedule_commands(register)


@hookimpl
def register_http_routes(hub: Hub, app: web.Application) -> None:
    """The device API's schedules: /api/v1/schedules (schedules_api.py)."""
    from automations.schedules_api import register_schedule_routes  # noqa: PLC0415 - it imports this module

    register_schedule_routes(app)
