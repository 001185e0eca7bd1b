"""The schedules the UI and /api/v1/schedules make: Home Assistant's `.storage/schedule` collection.

Items are kept in `<data dir>/schedule` in Home Assistant's shape (`data.items`, times as
HH:MM:SS text), beside the ids of schedules switched off by hand (`data.disabled`, which
Home Assistant does not read): YAML schedules can be switched off too, though not edited.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from automations.api_v1 import BodyError, FieldError
from automations.ha_storage import ItemsFile
from automations.weekly_schedule import WeeklyScheduleEntity, as_stored, check
from hub.core.runtime import HubKey
from hub.exceptions import HubError
from hub.util import slugify

if TYPE_CHECKING:
    from hub.core.entity import Entity
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DOMAIN = "schedule"


class ScheduleNotEditable(HubError):
    """The schedule comes from configuration.yaml: edit it there."""


class ScheduleStore:
    """Stored schedules: create, update, delete, and switching any schedule on or off."""

    def __init__(self, hub: Hub, yaml_schedules: dict[str, Any]) -> None:
        self.hub = hub
        self.file = ItemsFile(hub, DOMAIN)
        self.yaml = yaml_schedules
        self.stored: dict[str, WeeklyScheduleEntity] = {}
        self.disabled: set[str] = set()

    def all(self) -> dict[str, Entity]:
        """Every schedule by id: YAML first, then stored."""
        return {**self.yaml, **self.stored}

    async def load(self) -> None:
        """Add the stored schedules (the YAML ones are loaded already)."""
        data = self.file.load_data()
        self.disabled = {str(i) for i in data.get("disabled") or [] if isinstance(i, str)}
        for item in data["items"]:
            schedule_id = str(item["id"])
            parsed, errors = check({k: v for k, v in item.items() if k != "id"})
            if errors:
                _LOGGER.error("Stored schedule %s in %s is skipped: %s", schedule_id, self.file.path,
                              "; ".join(f"{e.pointer}: {e.message}" for e in errors))
                continue
            if schedule_id in self.yaml:
                _LOGGER.warning("Stored schedule %s is skipped: configuration.yaml has a schedule with that id", schedule_id)
                continue
            entity = WeeklyScheduleEntity(self.hub, schedule_id, parsed, editable=True,
                                          enabled=schedule_id not in self.disabled)
            await self.hub.entities.add(entity, DOMAIN)
            self.stored[schedule_id] = entity
        for schedule_id in self.disabled & set(self.yaml):
            await self.set_enabled(schedule_id, False, save=False)

    def _save(self) -> None:
        items = [as_stored(vars_of(e), i) for i, e in self.stored.items()]
        self.file.save(items, disabled=sorted(self.disabled & set(self.all())))

    def new_id(self, name: str) -> str:
        """An id made from the name, unique among every schedule."""
        base = (slugify(name) or "schedule")[:56]
        candidate, number = base, 2
        while candidate in self.all():
            candidate, number = f"{base}_{number}", number + 1
        return candidate

    async def create(self, body: dict[str, Any]) -> WeeklyScheduleEntity:
        """Add a schedule from its Home Assistant shape (`name`, `icon`, weekday blocks).

        Raises:
            BodyError: a field is wrong (named by JSON pointer), or the id is taken.
        """
        parsed, errors = check(body, with_id=True)
        schedule_id = body.get("id")
        if "id" in body and (not isinstance(schedule_id, str) or not schedule_id or slugify(schedule_id) != schedule_id):
            errors.append(FieldError("/id", "expected lowercase letters, digits and underscores"))
        if errors:
            raise BodyError(errors)
        schedule_id = schedule_id or self.new_id(parsed["name"])
        if schedule_id in self.all():
            raise BodyError([FieldError("/id", f"a schedule with id {schedule_id} exists already")])
        entity = WeeklyScheduleEntity(self.hub, schedule_id, parsed, editable=True)
        await self.hub.entities.add(entity, DOMAIN)
        self.stored[schedule_id] = entity
        self._save()
        return entity

    async def update(self, schedule_id: str, body: dict[str, Any]) -> WeeklyScheduleEntity:
        """Replace a stored schedule's name, icon and blocks.

        Raises:
            KeyError: no such schedule.
            ScheduleNotEditable: it comes from configuration.yaml.
            BodyError: a field is wrong.
        """
        entity = self._editable(schedule_id)
        parsed, errors = check(body)
        if errors:
            raise BodyError(errors)
        entity.configure(parsed)
        entity.refresh()
        self._save()
        return entity

    async def delete(self, schedule_id: str) -> None:
        """Remove a stored schedule."""
        self._editable(schedule_id)
        del self.stored[schedule_id]
        self.disabled.discard(schedule_id)
        await self.hub.entities.remove(f"{DOMAIN}.{schedule_id}")
        self._save()

    async def set_enabled(self, schedule_id: str, enabled: bool, *, save: bool = True) -> Entity:
        """Switch a schedule on or off by hand (off: a weekly one stays `off`, a cron one does not run)."""
        entity = self.all()[schedule_id]
        if enabled:
            self.disabled.discard(schedule_id)
        else:
            self.disabled.add(schedule_id)
        entity.set_enabled(enabled)  # type: ignore[attr-defined]  # both schedule kinds have it
        if save:
            self._save()
        return entity

    def _editable(self, schedule_id: str) -> WeeklyScheduleEntity:
        if schedule_id in self.yaml:
            message = f"schedule {schedule_id} is defined in configuration.yaml: edit it there"
            raise ScheduleNotEditable(message)
        return self.stored[schedule_id]


def vars_of(entity: WeeklyScheduleEntity) -> dict[str, Any]:
    """An entity's configuration in check()'s parsed shape."""
    return {"name": entity.name, "icon": entity.icon, **entity.blocks}


STORE: HubKey[ScheduleStore] = HubKey("schedule.store")
