"""Calendar events: one-off or recurring (RFC 5545 RRULE, expanded with dateutil), timed or all-day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from dateutil.rrule import rrulestr


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One occurrence of an event: start/end are aware datetimes, or dates for an all-day event."""

    summary: str
    start: datetime | date
    end: datetime | date
    description: str | None = None
    location: str | None = None
    uid: str | None = None
    rrule: str | None = None

    @property
    def all_day(self) -> bool:
        """Whether it lasts whole days (its start is a date)."""
        return not isinstance(self.start, datetime)

    def start_at(self, zone: tzinfo) -> datetime:
        """The start as an aware datetime (midnight of the day for an all-day event)."""
        return _moment(self.start, zone)

    def end_at(self, zone: tzinfo) -> datetime:
        """The end as an aware datetime."""
        return _moment(self.end, zone)

    def as_dict(self) -> dict[str, Any]:
        """The event as Home Assistant gives it to templates and services."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "summary": self.summary,
            "description": self.description,
            "location": self.location,
            "all_day": self.all_day,
        }


def _moment(value: datetime | date, zone: tzinfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    return datetime.combine(value, time(0), zone)


@dataclass(slots=True)
class StoredEvent:
    """An event as kept: its first occurrence and its recurrence rule, if any."""

    event: CalendarEvent
    exdates: list[str] = field(default_factory=list)

    def occurrences(self, start: datetime, end: datetime, zone: tzinfo) -> list[CalendarEvent]:
        """The occurrences that overlap [start, end)."""
        first = self.event
        length = first.end_at(zone) - first.start_at(zone)
        if not first.rrule:
            return [first] if first.start_at(zone) < end and first.end_at(zone) > start else []
        rule = rrulestr(first.rrule, dtstart=first.start_at(zone))
        found = []
        for moment in rule.between(start - length, end, inc=True):
            if moment + length <= start or moment >= end:
                continue
            start_at: datetime | date = moment.date() if first.all_day else moment
            end_at: datetime | date = (moment + length).date() if first.all_day else moment + length
            found.append(CalendarEvent(first.summary, start_at, end_at, first.description, first.location, first.uid, first.rrule))
        return found


def parse_when(value: Any, zone: tzinfo) -> datetime | date:
    """A start or end from YAML or a service: a date (all day) or a datetime (local when naive)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        message = f"expected a date (2024-06-01) or a date and time (2024-06-01 13:00), got {value!r}"
        raise ValueError(message) from err
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def default_end(start: datetime | date) -> datetime | date:
    """An event without an end lasts a day (all day) or an hour."""
    return start + (timedelta(days=1) if not isinstance(start, datetime) else timedelta(hours=1))
