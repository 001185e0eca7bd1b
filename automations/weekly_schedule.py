"""Home Assistant's `schedule` helper: weekly time blocks, `schedule.<id>` on inside a block.

    schedule:
      heating:
        name: Heating
        icon: mdi:radiator
        monday:
          - from: "07:00:00"
            to: "09:00:00"
            data: {target: 21}   # optional: shown as attributes while the block is on
        saturday:
          - {from: "08:00", to: "24:00"}

A block runs from `from` up to (not including) `to`; `to: "24:00:00"` is the end of the day.
Blocks of one day may not overlap. The state is `on` inside a block, else `off`; the
`next_event` attribute is the next change. Times are wall-clock times in the hub's time zone.
The same shape is what the UI and /api/v1/schedules store (`<data dir>/schedule`, as Home
Assistant's `.storage/schedule`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from automations.api_v1 import FieldError, pointer
from hub.core.entity import Entity
from hub.core.states import STATE_OFF, STATE_ON

if TYPE_CHECKING:
    from hub.core.hub import Hub

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
END_OF_DAY = time.max
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_KEYS = {"id", "name", "icon", *DAYS}

Block = dict[str, Any]  # {"from": time, "to": time, "data": {...}?}


def is_weekly(config: Any) -> bool:
    """Whether a `schedule:` item is Home Assistant's weekly kind (no cron, interval or sequence)."""
    return isinstance(config, Mapping) and not ({"cron", "interval", "sequence"} & set(config))


def _parse_time(value: Any, *, end: bool) -> time | None:
    if isinstance(value, time):
        return value
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if end and (hour, minute, second) == (24, 0, 0):
        return END_OF_DAY
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


def format_time(value: time) -> str:
    """HH:MM:SS, the end of the day as 24:00:00 (as Home Assistant stores it)."""
    return "24:00:00" if value == END_OF_DAY else value.strftime("%H:%M:%S")


def check(config: Any, *, with_id: bool = False) -> tuple[dict[str, Any], list[FieldError]]:
    """Return the schedule with parsed times, and what is wrong, each named by JSON pointer."""
    if not isinstance(config, Mapping):
        return {}, [FieldError("", "expected an object with name and weekday blocks")]
    errors = [FieldError(pointer(k), f"unknown field; expected name, icon or a weekday ({', '.join(DAYS)})")
              for k in config if k not in _KEYS or (k == "id" and not with_id)]
    name = config.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        errors.append(FieldError("/name", "required: a non-empty string of at most 255 characters"))
    icon = config.get("icon")
    if icon is not None and not isinstance(icon, str):
        errors.append(FieldError("/icon", "expected a string such as mdi:radiator"))
    parsed: dict[str, Any] = {"name": name, "icon": icon}
    for day in DAYS:
        blocks = config.get(day) or []
        if isinstance(blocks, Mapping):
            blocks = [blocks]
        if not isinstance(blocks, list):
            errors.append(FieldError(pointer(day), "expected a list of {from, to} blocks"))
            continue
        parsed[day] = _check_day(day, blocks, errors)
    return parsed, errors


def _check_day(day: str, blocks: list[Any], errors: list[FieldError]) -> list[Block]:
    good: list[tuple[int, Block]] = []
    for index, block in enumerate(blocks):
        where = pointer(day, index)
        if not isinstance(block, Mapping):
            errors.append(FieldError(where, "expected an object with from and to"))
            continue
        unknown = [k for k in block if k not in ("from", "to", "data")]
        errors.extend(FieldError(f"{where}/{k}", "unknown field; expected from, to or data") for k in unknown)
        start = _parse_time(block.get("from"), end=False)
        stop = _parse_time(block.get("to"), end=True)
        if start is None:
            errors.append(FieldError(f"{where}/from", f"expected a time HH:MM or HH:MM:SS, got {block.get('from')!r}"))
        if stop is None:
            errors.append(FieldError(f"{where}/to", f"expected a time HH:MM, HH:MM:SS or 24:00, got {block.get('to')!r}"))
        data = block.get("data")
        bad_data = data is not None and (not isinstance(data, Mapping) or
                                         not all(isinstance(v, str | int | float | bool) for v in data.values()))
        if bad_data:
            errors.append(FieldError(f"{where}/data", "expected an object of strings, numbers or booleans"))
        if start is None or stop is None or bad_data:
            continue
        if start >= stop:
            errors.append(FieldError(f"{where}/to", f"must be after from ({format_time(start)})"))
            continue
        good.append((index, {"from": start, "to": stop, **({"data": dict(data)} if data else {})}))
    good.sort(key=lambda item: item[1]["from"])
    for (_, before), (index, after) in itertools.pairwise(good):
        if after["from"] < before["to"]:
            errors.append(FieldError(pointer(day, index, "from"),
                                     f"overlaps the block {format_time(before['from'])}-{format_time(before['to'])}"))
    return [block for _, block in good]


def as_stored(parsed: Mapping[str, Any], schedule_id: str) -> dict[str, Any]:
    """The schedule as Home Assistant's storage keeps it (times as HH:MM:SS text)."""
    item: dict[str, Any] = {"id": schedule_id, "name": parsed["name"]}
    if parsed.get("icon"):
        item["icon"] = parsed["icon"]
    for day in DAYS:
        item[day] = [{"from": format_time(b["from"]), "to": format_time(b["to"]),
                      **({"data": b["data"]} if "data" in b else {})} for b in parsed.get(day, [])]
    return item


class WeeklyScheduleEntity(Entity):
    """schedule.<id>: on inside one of its weekly blocks."""

    domain = "schedule"

    hub: Hub
    entity_id: str

    def __init__(self, hub: Hub, schedule_id: str, parsed: Mapping[str, Any], *, editable: bool,
                 enabled: bool = True) -> None:
        self.hub = hub
        self.schedule_id = schedule_id
        self.entity_id = f"schedule.{schedule_id}"
        self.unique_id = schedule_id
        self.editable = editable
        self.enabled = enabled
        self.configure(parsed)
        self.is_on = False
        self.next_event: datetime | None = None
        self.current_data: dict[str, Any] = {}
        self._cancel: Callable[[], None] | None = None

    def configure(self, parsed: Mapping[str, Any]) -> None:
        """Take a (checked) configuration."""
        self.name = str(parsed["name"])
        self.icon = parsed.get("icon") or None
        self.blocks: dict[str, list[Block]] = {day: list(parsed.get(day) or []) for day in DAYS}

    def state_value(self) -> Any:
        """on or off."""
        return STATE_ON if self.is_on else STATE_OFF

    def state_attributes(self) -> dict[str, Any]:
        """next_event, editable and the current block's data, as Home Assistant; `enabled` when off by hand."""
        attrs = super().state_attributes()
        attrs["editable"] = self.editable
        attrs["next_event"] = self.next_event.isoformat() if self.next_event else None
        if not self.enabled:
            attrs["enabled"] = False
        attrs.update(self.current_data)
        return attrs

    def evaluate(self, now: datetime) -> None:
        """Set is_on, the current block's data and next_event for the moment now (local time)."""
        block = self._block_at(now) if self.enabled else None
        self.is_on = block is not None
        self.current_data = dict(block.get("data") or {}) if block else {}
        self.next_event = self._next_change(now) if self.enabled else None

    def _block_at(self, now: datetime) -> Block | None:
        for block in self.blocks[DAYS[now.weekday()]]:
            if block["from"] <= now.time() and (now.time() < block["to"] or block["to"] == END_OF_DAY):
                return block
        return None

    def _next_change(self, now: datetime) -> datetime | None:
        tz = now.tzinfo
        for offset in range(8):  # today, the six days after, and today's weekday next week
            day = now.date() + timedelta(days=offset)
            moments = sorted(
                datetime.combine(day + timedelta(days=1), time(), tzinfo=tz) if t == END_OF_DAY
                else datetime.combine(day, t, tzinfo=tz)
                for block in self.blocks[DAYS[day.weekday()]] for t in (block["from"], block["to"])
            )
            # Wall-clock times: compare in UTC, so the hour that repeats at the end of DST is right.
            later = [m for m in moments if m.timestamp() > now.timestamp()]
            if later:
                return later[0]
        return None

    def refresh(self) -> None:
        """Evaluate now, write the state and arm the timer for the next change."""
        if self._cancel is not None:
            self._cancel()
            self._cancel = None
        self.evaluate(self.hub.clock.now())
        self.write_state()
        if self.next_event is not None:
            self._cancel = self.hub.clock.call_at(self.next_event.timestamp(), self._fire)

    def _fire(self) -> None:
        self._cancel = None
        self.refresh()

    def set_enabled(self, enabled: bool) -> None:
        """Switch the schedule on or off by hand: off, it stays `off` until switched on again."""
        self.enabled = enabled
        self.refresh()

    async def added_to_hub(self) -> None:
        """Arm the first change (the first state is written by the hub right after)."""
        self.evaluate(self.hub.clock.now())
        if self.next_event is not None:
            self._cancel = self.hub.clock.call_at(self.next_event.timestamp(), self._fire)

    async def will_remove_from_hub(self) -> None:
        """Disarm."""
        if self._cancel is not None:
            self._cancel()
            self._cancel = None
