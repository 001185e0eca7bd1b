"""Tariffs: flat or time-of-use prices per kWh, each valid between dates, in the hub's time zone.

Pure code (no hub): a Tariff prices energy used over an interval. Prices follow local wall
time, so 07:00 is 07:00 on either side of a DST change, and the day a clock changes is 23 or 25
hours long. A period's dates are local days: `valid_from` inclusive, `valid_to` inclusive; a
period without `valid_to` lasts until the next period starts. Energy used where no period
applies costs nothing (price None).

Time-of-use rules apply on their weekdays from `from` up to `to` (wall time; `to` at or before
`from` wraps past midnight: 22:00-06:00 covers 22:00-24:00 and 00:00-06:00 of the listed days);
the first matching rule wins, and the period's `price` covers the hours no rule does.

Time-of-use bands: every price belongs to a band, so a bill can say how much was peak. A rule's
`name` names its band; without one, a rule dearer than the period's price is "peak" and a
cheaper one "off-peak", and the period's own price takes the other name ("standard" when rules
lie on both sides of it, or when there are no rules).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

Segment = tuple[float, float, float | None, str]  # (start, end, price per kWh, band)
# One hour's prices: (band, share of the hour, price per kWh) for each price in force during it.
HourParts = tuple[tuple[str, float, float], ...]
HOUR = 3600.0
_MIDNIGHT = time(0)
PEAK, OFF_PEAK, STANDARD = "peak", "off-peak", "standard"


@dataclass(frozen=True, slots=True)
class Rule:
    """A time-of-use price on some weekdays (0 = Monday) between two wall times."""

    days: frozenset[int]
    start: time
    end: time  # time(0) as end means 24:00
    price: float
    name: str | None = None

    def covers(self, weekday: int, at: time) -> bool:
        """Return whether the rule prices wall time `at` on weekday."""
        if weekday not in self.days:
            return False
        if self.end == _MIDNIGHT or self.end <= self.start:
            # Runs to midnight, or wraps: the part after `start`, plus (wrapping) the part before `end`.
            return at >= self.start or (self.end != _MIDNIGHT and at < self.end)
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class TariffPeriod:
    """The prices that apply from valid_from to valid_to (local dates, both inclusive)."""

    valid_from: date
    valid_to: date | None
    price: float | None
    rules: tuple[Rule, ...] = ()

    def price_at(self, weekday: int, at: time) -> float | None:
        """Return the price at a wall time of a weekday."""
        return self.priced_at(weekday, at)[0]

    def priced_at(self, weekday: int, at: time) -> tuple[float | None, str]:
        """Return the price and its band at a wall time of a weekday."""
        for rule in self.rules:
            if rule.covers(weekday, at):
                return rule.price, rule.name or self.rule_band(rule)
        return self.price, self.base_band()

    def rule_band(self, rule: Rule) -> str:
        """Return the band of a rule that has no name of its own."""
        if self.price is None or rule.price > self.price:
            return PEAK
        return OFF_PEAK if rule.price < self.price else STANDARD

    def base_band(self) -> str:
        """Return the band of the period's own price."""
        if self.price is None:
            return STANDARD
        above = any(r.price > self.price for r in self.rules)
        below = any(r.price < self.price for r in self.rules)
        if above and not below:
            return OFF_PEAK
        if below and not above:
            return PEAK
        return STANDARD

    def cuts(self) -> list[time]:
        """Return the wall times at which the price may change during a day."""
        return sorted({_MIDNIGHT, *(r.start for r in self.rules), *(r.end for r in self.rules)})


class Tariff:
    """A named tariff: its periods in date order, priced in one time zone."""

    def __init__(self, name: str, periods: Iterable[TariffPeriod], zone: tzinfo) -> None:
        self.name = name
        self.periods = sorted(periods, key=lambda p: p.valid_from)
        self.zone = zone
        self._days: dict[date, list[Segment]] = {}
        self._starts: dict[date, list[float]] = {}
        self._hours: dict[float, HourParts] = {}
        self._hours_span = (0.0, 0.0)  # the table holds every hour in [low, high)
        self._parts: dict[HourParts, HourParts] = {}
        for before, after in zip(self.periods, self.periods[1:], strict=False):
            if before.valid_to is not None and before.valid_to >= after.valid_from:
                message = f"tariff {name}: the period from {before.valid_from} overlaps the one from {after.valid_from}"
                raise ValueError(message)

    def period_on(self, day: date) -> TariffPeriod | None:
        """Return the period in force on a local date."""
        found = None
        for period in self.periods:
            if period.valid_from > day:
                break
            found = period
        if found is None or (found.valid_to is not None and day > found.valid_to):
            return None
        return found

    def price_at(self, ts: float) -> float | None:
        """Return the price per kWh at a Unix timestamp."""
        local = datetime.fromtimestamp(ts, self.zone)
        period = self.period_on(local.date())
        return None if period is None else period.price_at(local.weekday(), local.time())

    def _local(self, day: date, at: time) -> float:
        return datetime.combine(day, at, self.zone).timestamp()

    def _day(self, day: date) -> list[Segment]:
        """Return a local day's segments (cached: usage queries price thousands of hours per day)."""
        cached = self._days.get(day)
        if cached is not None:
            return cached
        period = self.period_on(day)
        cuts = period.cuts() if period is not None else [_MIDNIGHT]
        bounds = [self._local(day, t) for t in cuts] + [self._local(day + timedelta(days=1), _MIDNIGHT)]
        segments: list[Segment] = []
        for index, at in enumerate(cuts):
            if bounds[index + 1] <= bounds[index]:
                continue
            price, band = (None, STANDARD) if period is None else period.priced_at(day.weekday(), at)
            if segments and segments[-1][2:] == (price, band):
                segments[-1] = (segments[-1][0], bounds[index + 1], price, band)
            else:
                segments.append((bounds[index], bounds[index + 1], price, band))
        if len(self._days) > 4096:
            self._days.clear()
        self._days[day] = segments
        self._starts[day] = [seg[0] for seg in segments]
        return segments

    def segments(self, start: float, end: float) -> list[Segment]:
        """Split [start, end) at every price change: [(seg_start, seg_end, price, band)], merged where equal."""
        out: list[Segment] = []
        if end <= start:
            return out
        day = datetime.fromtimestamp(start, self.zone).date()
        while True:
            day_segments = self._day(day)
            for seg_start, seg_end, price, band in day_segments:
                seg_start, seg_end = max(seg_start, start), min(seg_end, end)
                if seg_end <= seg_start:
                    continue
                if out and out[-1][2:] == (price, band) and out[-1][1] == seg_start:
                    out[-1] = (out[-1][0], seg_end, price, band)
                else:
                    out.append((seg_start, seg_end, price, band))
            if not day_segments or day_segments[-1][1] >= end:
                return out
            day += timedelta(days=1)

    def cost(self, kwh: float, start: float, end: float) -> float:
        """Return the cost of kwh used evenly over [start, end), split at price changes by time.

        An instant (start == end) is priced at that instant.
        """
        if kwh == 0:
            return 0.0
        if end <= start:
            price = self.price_at(end)
            return kwh * price if price is not None else 0.0
        # Most intervals (readings seconds apart) lie inside one segment: one lookup, no list.
        day = datetime.fromtimestamp(start, self.zone).date()
        day_segments = self._day(day)
        index = bisect_right(self._starts[day], start) - 1
        if index >= 0:
            _seg_start, seg_end, price, _band = day_segments[index]
            if end <= seg_end:
                return kwh * price if price is not None else 0.0
        span = end - start
        return sum(kwh * (b - a) / span * p for a, b, p, _band in self.segments(start, end) if p is not None)

    def split(self, kwh: float, start: float, end: float) -> list[tuple[str, float, float]]:
        """Return [(band, kWh, cost)] of kwh used evenly over [start, end); unpriced time is left out."""
        if kwh == 0:
            return []
        if end <= start:
            local = datetime.fromtimestamp(end, self.zone)
            period = self.period_on(local.date())
            if period is None:
                return []
            price, band = period.priced_at(local.weekday(), local.time())
            return [] if price is None else [(band, kwh, kwh * price)]
        span = end - start
        return [(band, kwh * (b - a) / span, kwh * (b - a) / span * p)
                for a, b, p, band in self.segments(start, end) if p is not None]

    def hours(self, first: float, end: float) -> dict[float, HourParts]:
        """Return the prices of every whole hour (epoch-aligned) from first up to end, by hour start.

        Each hour maps to its parts: (band, share of the hour, price); hours priced alike map to
        the same tuple. Usage queries price thousands of hours from the hour tier; the table
        is kept between queries (one contiguous span, bounded).
        """
        first = first // HOUR * HOUR
        end = first + max(0, math.ceil((end - first) / HOUR)) * HOUR
        cache = self._hours
        low, high = self._hours_span
        if end <= first or (low <= first and end <= high):
            return cache
        if high < first or end < low or (max(end, high) - min(first, low)) / HOUR > 200_000:
            cache.clear()  # a span apart from the one held (or too long to join it): start again
            self._parts.clear()
            low, high = first, end
        else:
            low, high = min(first, low), max(end, high)
        segments = self.segments(low, high)
        interned = self._parts
        index = 0
        hour = low
        while hour < high:
            until = hour + HOUR
            while index < len(segments) and segments[index][1] <= hour:
                index += 1
            parts = []
            look = index
            while look < len(segments) and segments[look][0] < until:
                a, b, price, band = segments[look]
                share = (min(b, until) - max(a, hour)) / HOUR
                if share > 0 and price is not None:
                    parts.append((band, share, price))
                look += 1
            found = tuple(parts)
            # Hours priced alike share one tuple: usage queries sum kWh per distinct price.
            cache[hour] = interned.setdefault(found, found)
            hour = until
        self._hours_span = (low, high)
        return cache

    def bands(self) -> list[str]:
        """Return the band names this tariff uses, dearest first on its latest period."""
        names: list[str] = []
        for period in reversed(self.periods):
            priced = [(r.price, r.name or period.rule_band(r)) for r in period.rules]
            if period.price is not None:
                priced.append((period.price, period.base_band()))
            for _price, band in sorted(priced, key=lambda p: -p[0]):
                if band not in names:
                    names.append(band)
        return names
