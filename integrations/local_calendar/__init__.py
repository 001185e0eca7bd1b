"""`local_calendar:`: calendars kept by the hub, with events from YAML and from calendar.create_event.

    local_calendar:
      - name: Cheap power
        events:
          - summary: Off-peak
            start: 2024-06-01 23:00:00
            end: 2024-06-02 07:00:00
            rrule: FREQ=DAILY          # RFC 5545 recurrence (optional)
          - summary: Holiday
            start: 2024-08-01          # a date: all day
            end: 2024-08-15

Each calendar is `calendar.<name>`: on while an event runs, with the current or next event's
message, all_day, start_time, end_time, location and description (Home Assistant's calendar
entity). `calendar.create_event` adds events (kept in the data folder across restarts),
`calendar.get_events` answers the events of a period; the `calendar` trigger of automations
fires at an event's start or end, with an offset.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from hub.core.entity import Entity
from hub.core.services import ServiceCall, SupportsResponse
from hub.exceptions import ServiceValidationError
from hub.util import slugify
from integrations.local_calendar.events import CalendarEvent, StoredEvent, default_end, parse_when

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DATE_STR_FORMAT = "%Y-%m-%d %H:%M:%S"


def _when(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value
    text = str(value).strip()
    try:
        date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError as err:
        raise vol.Invalid(f"expected a date (2024-06-01) or a date and time (2024-06-01 13:00), got {value!r}") from err
    return text


EVENT_SCHEMA = vol.Schema(
    {
        vol.Required("summary"): vol.Coerce(str),
        vol.Required("start"): _when,
        vol.Optional("end"): _when,
        vol.Optional("description"): vol.Coerce(str),
        vol.Optional("location"): vol.Coerce(str),
        vol.Optional("rrule"): vol.All(str, vol.Match(r"^(RRULE:)?FREQ=", msg="expected an RRULE such as FREQ=DAILY")),
    }
)
CALENDAR_SCHEMA = vol.Schema({vol.Required("name"): vol.Coerce(str), vol.Optional("events", default=list): [EVENT_SCHEMA]})
CONFIG_SCHEMA = vol.Any(None, vol.All(lambda value: [value] if isinstance(value, dict) else value, [CALENDAR_SCHEMA]))


class LocalCalendar(Entity):
    """calendar.<name>: on while an event runs."""

    domain = "calendar"

    def __init__(self, name: str, events: list[StoredEvent], store: Path | None) -> None:
        self.name = name
        self.entity_id = f"calendar.{slugify(name)}"
        self.fixed = events
        self.created: list[StoredEvent] = []
        self.store = store
        self.current: CalendarEvent | None = None
        self._timer: Any = None

    # ---- events ----

    def events_between(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        """The event occurrences that overlap [start, end), by start time."""
        assert self.hub is not None
        zone = self.hub.clock.time_zone
        found = [event for stored in (*self.fixed, *self.created) for event in stored.occurrences(start, end, zone)]
        return sorted(found, key=lambda event: event.start_at(zone))

    async def add_event(self, event: CalendarEvent) -> None:
        """Add an event and keep it."""
        self.created.append(StoredEvent(event))
        await self._save()
        self._refresh()

    # ---- state ----

    def state_value(self) -> Any:
        """on while an event runs."""
        assert self.hub is not None
        if self.current is None:
            return "off"
        zone = self.hub.clock.time_zone
        now = self.hub.clock.now()
        return "on" if self.current.start_at(zone) <= now < self.current.end_at(zone) else "off"

    def state_attributes(self) -> dict[str, Any]:
        """The current or next event."""
        attrs: dict[str, Any] = {}
        event = self.current
        if event is not None and self.hub is not None:
            zone = self.hub.clock.time_zone
            attrs = {
                "message": event.summary,
                "all_day": event.all_day,
                "start_time": event.start_at(zone).astimezone(zone).strftime(DATE_STR_FORMAT),
                "end_time": event.end_at(zone).astimezone(zone).strftime(DATE_STR_FORMAT),
                "location": event.location or "",
                "description": event.description or "",
            }
        attrs.update(super().state_attributes())
        return attrs

    async def added_to_hub(self) -> None:
        """Load the created events, then follow the next change."""
        self.created = await self._load()
        self._refresh(write=False)

    async def will_remove_from_hub(self) -> None:
        """Stop the timer."""
        if self._timer is not None:
            self._timer()

    def _refresh(self, write: bool = True) -> None:
        assert self.hub is not None
        clock = self.hub.clock
        now = clock.now()
        upcoming = [e for e in self.events_between(now, now + timedelta(days=366)) if e.end_at(clock.time_zone) > now]
        self.current = upcoming[0] if upcoming else None
        if self._timer is not None:
            self._timer()
            self._timer = None
        if self.current is not None:
            zone = clock.time_zone
            start, end = self.current.start_at(zone), self.current.end_at(zone)
            moment = start if start > now else end
            self._timer = clock.call_at(moment.timestamp(), self._refresh)
        if write:
            self.write_state()

    # ---- storage ----

    async def _load(self) -> list[StoredEvent]:
        if self.store is None or self.hub is None:
            return []
        hub = self.hub
        path = self.store

        def read() -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
            return rows

        zone = hub.clock.time_zone
        try:
            rows = await hub.run_in_executor(read)
        except (OSError, ValueError) as err:
            _LOGGER.error("%s: the stored events in %s cannot be read: %s", self.entity_id, path, err)
            return []
        return [StoredEvent(_event(row, zone)) for row in rows]

    async def _save(self) -> None:
        if self.store is None or self.hub is None:
            return
        path = self.store
        rows = [{**stored.event.as_dict(), "uid": stored.event.uid} for stored in self.created]

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(rows, indent=1))
            temporary.replace(path)

        await self.hub.run_in_executor(write)


def _event(row: dict[str, Any], zone: Any) -> CalendarEvent:
    start = parse_when(row["start"], zone)
    end = parse_when(row["end"], zone) if row.get("end") else default_end(start)
    return CalendarEvent(str(row["summary"]), start, end, row.get("description"), row.get("location"), row.get("uid"), row.get("rrule"))


def _calendars(hub: Hub, call: ServiceCall) -> list[LocalCalendar]:
    return [entity for entity in hub.entities.entities_for(call, "calendar") if isinstance(entity, LocalCalendar)]


CREATE_SCHEMA = vol.Schema(
    {
        vol.Optional("entity_id"): object,
        vol.Optional("device_id"): object,
        vol.Optional("area_id"): object,
        vol.Required("summary"): vol.Coerce(str),
        vol.Optional("description"): vol.Coerce(str),
        vol.Optional("location"): vol.Coerce(str),
        vol.Exclusive("start_date_time", "start"): _when,
        vol.Exclusive("start_date", "start"): _when,
        vol.Optional("end_date_time"): _when,
        vol.Optional("end_date"): _when,
        vol.Optional("in"): {vol.Optional("days"): int, vol.Optional("weeks"): int},
    }
)
GET_SCHEMA = vol.Schema(
    {
        vol.Optional("entity_id"): object,
        vol.Optional("device_id"): object,
        vol.Optional("area_id"): object,
        vol.Optional("start_date_time"): _when,
        vol.Optional("end_date_time"): _when,
        vol.Optional("duration"): object,
    }
)


@hookimpl
def config_entity_ids(hub: Hub, config: Any) -> list[str]:
    """calendar.<name> per calendar."""
    calendars = CONFIG_SCHEMA(config) or []
    return [f"calendar.{slugify(calendar['name'])}" for calendar in calendars]


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Add each calendar and the calendar.create_event / get_events services."""
    zone = hub.clock.time_zone
    folder = Path(hub.config.data_dir) / "local_calendar" if hub.config.data_dir else None
    for calendar in CONFIG_SCHEMA(config) or []:
        events = [StoredEvent(_event(dict(row), zone)) for row in calendar["events"]]
        store = folder / f"{slugify(calendar['name'])}.json" if folder else None
        await hub.entities.add(LocalCalendar(calendar["name"], events, store), "local_calendar")

    async def create_event(call: ServiceCall) -> None:
        data = call.data
        if "in" in data:
            today = hub.clock.now().date()
            start: Any = today + timedelta(days=data["in"].get("days", 0), weeks=data["in"].get("weeks", 0))
            end: Any = start + timedelta(days=1)
        elif "start_date_time" in data:
            start = parse_when(data["start_date_time"], zone)
            end = parse_when(data["end_date_time"], zone) if "end_date_time" in data else None
        elif "start_date" in data:
            start = parse_when(data["start_date"], zone)
            end = parse_when(data["end_date"], zone) if "end_date" in data else None
        else:
            message = "Expected start_date_time, start_date or in"
            raise ServiceValidationError(message)
        if end is None:
            message = "Expected end_date_time with start_date_time, or end_date with start_date"
            raise ServiceValidationError(message)
        event = CalendarEvent(data["summary"], start, end, data.get("description"), data.get("location"), uuid.uuid4().hex)
        for calendar in _calendars(hub, call):
            await calendar.add_event(event)

    async def get_events(call: ServiceCall) -> dict[str, Any]:
        from automations.timeutil import to_timedelta

        data = call.data
        start = parse_when(data["start_date_time"], zone) if "start_date_time" in data else hub.clock.now()
        if "end_date_time" in data:
            end = parse_when(data["end_date_time"], zone)
        else:
            end = start + (to_timedelta(data["duration"]) if "duration" in data else timedelta(0))
        assert isinstance(start, datetime) and isinstance(end, datetime)
        return {
            calendar.entity_id or "": {"events": [_listed(event) for event in calendar.events_between(start, end)]}
            for calendar in _calendars(hub, call)
        }

    hub.services.register("calendar", "create_event", create_event, CREATE_SCHEMA)
    hub.services.register("calendar", "get_events", get_events, GET_SCHEMA, SupportsResponse.ONLY)


def _listed(event: CalendarEvent) -> dict[str, Any]:
    """An event as calendar.get_events lists it: what it has of start, end, summary, description, location."""
    found = event.as_dict()
    return {key: found[key] for key in ("start", "end", "summary", "description", "location") if found[key] is not None}
