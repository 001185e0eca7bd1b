"""The interface every history backend implements, and the records that cross it."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

import orjson

from hub.exceptions import HubError

TIERS = ("fifteen_second", "minute", "five_minute", "hour", "day")
TIER_SECONDS = {"fifteen_second": 15, "minute": 60, "five_minute": 300, "hour": 3600, "day": 86400}
RAW_TIERS = ("fifteen_second", "minute", "five_minute")  # aggregated from raw points, each on its own


class BackendError(HubError):
    """A history backend could not read or write (down, refused, misconfigured)."""


class RefusedWrite(HubError):
    """A history backend refuses these points for good (their data, not an outage): retrying cannot pass.

    Not a BackendError, which the recorder retries for as long as it takes: the recorder sets the
    batch aside (spool/rejected.bin) after a few attempts, so the points behind it are written.
    """


_TS = itemgetter(1)  # the ts of a Row or an AttributeChange


Row = tuple[str, float, float | None, str | None]
"""A point as the recorder makes it and a backend gets it: (entity_id, ts, value, state), read by
position. A plain tuple of a string, floats and None, which the garbage collector untracks at its
first young collection; a NamedTuple it tracks for as long as it lives. At 10,000-30,000
readings/s the points between a commit and their write (20,000-65,000) were most of what every
middle-generation collection of `hub run` scanned: 7-16 ms CPU of the event loop each."""


class Point(NamedTuple):
    """One recorded state: numeric states carry value, the others carry state (a Row by name,
    for the code that builds points outside the recorder's hot path)."""

    entity_id: str
    ts: float
    value: float | None
    state: str | None


class AttributeChange(NamedTuple):
    """The attributes an entity had from ts on, as JSON text (stored once per change)."""

    entity_id: str
    ts: float
    attributes: str


class Sample(NamedTuple):
    """A point as read back for one entity."""

    ts: float
    value: float | None
    state: str | None


class Partial(NamedTuple):
    """What a database sums up of one entity's numeric points in one bucket [start, start + width).

    `area` is the integral of the held value from `first` (the bucket's first point) to the
    bucket's end, each point holding until the next numeric point or the end, whichever comes
    first; tiers.from_partials adds the value carried in and makes TierRows of them.
    """

    start: float
    count: int  # type: ignore[assignment]  # the points in the bucket, as TierRow.count
    min: float
    max: float
    first: float  # the first point's time
    area: float
    last: float


class CarriedPartials(dict[str, list[Partial]]):
    """aggregate_points' answer from a backend that read the values in force at start along with the points.

    `carried` holds each entity's last numeric value before start where the read found it;
    the others are looked up with last_values, as for backends that answer a plain dict.
    """

    def __init__(self, partials: dict[str, list[Partial]], carried: dict[str, float]) -> None:
        super().__init__(partials)
        self.carried = carried


class TierRow(NamedTuple):
    """The aggregate of one entity over one tier bucket [start, start + width)."""

    entity_id: str
    start: float
    mean: float
    min: float
    max: float
    last: float
    delta: float  # consumption of a total_increasing counter, resets counted as new usage
    # Hides tuple.count on purpose: it is the column's name in every backend and in exported history.
    count: int  # type: ignore[assignment]


@dataclass(slots=True)
class Batch:
    """What the recorder hands to a backend in one write: points and attribute changes."""

    points: list[Row] = field(default_factory=list)
    attributes: list[AttributeChange] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.points) + len(self.attributes)

    def to_bytes(self) -> bytes:
        """Serialise for the spool."""
        return orjson.dumps([self.points, self.attributes], default=tuple)

    @classmethod
    def from_bytes(cls, data: bytes) -> Batch:
        """Read a batch the spool stored."""
        points, attributes = orjson.loads(data)
        return cls([tuple(p) for p in points], [AttributeChange(*a) for a in attributes])

    def min_ts(self) -> float | None:
        """Return the oldest timestamp in the batch (one pass in C: called on the loop per stored slice)."""
        stamps = [min(map(_TS, rows)) for rows in (self.points, self.attributes) if rows]
        return min(stamps) if stamps else None


class HistoryBackend(ABC):
    """Where history lives. Writes must be idempotent: writing a batch twice stores it once.

    Timestamps are float seconds since the epoch (UTC) everywhere.
    """

    name = "base"

    async def open(self) -> None:  # noqa: B027 - optional for backends with nothing to open
        """Connect and create or migrate the schema."""

    async def close(self) -> None:  # noqa: B027
        """Release connections and threads."""

    @abstractmethod
    async def write(self, batch: Batch) -> None:
        """Store a batch; same (entity_id, ts) twice keeps one point.

        Raises:
            BackendError: the backend is unreachable or refused the write.
        """

    @abstractmethod
    async def read_states(
        self, entity_ids: Iterable[str] | None, start: float, end: float, *, include_start: bool = False
    ) -> dict[str, list[Sample]]:
        """Return the points in [start, end) per entity, oldest first (None: every entity).

        With include_start, each entity's last point before start comes first.
        """

    async def read_points(
        self, entity_ids: Iterable[str], start: float, end: float, *, include_start: bool = False
    ) -> dict[str, list[tuple[float, float | str | None]]]:
        """Return (ts, value or state) pairs per entity, as read_states, built as cheaply as possible.

        The second item is the state text when one is stored (text states, and numbers kept
        as written), else the float. History queries
        of a day of 1 Hz data read close to a million points: backends that can should make no
        object per point beyond the pair (SQLite does).
        """
        found = await self.read_states(entity_ids, start, end, include_start=include_start)
        return {
            entity_id: [(s.ts, s.value if s.state is None else s.state) for s in samples]
            for entity_id, samples in found.items()
        }

    async def aggregate_points(
        self, entity_ids: Iterable[str], start: float, end: float, width: float
    ) -> dict[str, list[Partial]]:
        """Return each entity's numeric points in [start, end) summed up per bucket of width seconds.

        Buckets are `[k * width, (k + 1) * width)`; points without a number (text states) are
        left out, so a value holds through them. This default reads the points (read_points)
        and sums them up with numpy in a worker thread; a backend may do it in its database.
        """
        from hub.recorder.partials import sum_up
        from hub.recorder.recorder import to_value

        found = await self.read_points(entity_ids, start, end)

        def summed() -> dict[str, list[Partial]]:
            numbers: dict[str, float | None] = {}
            out = {}
            for entity_id, pairs in found.items():
                times, values = [], []
                for ts, value in pairs:
                    if value.__class__ is not float:
                        if value is None:
                            continue
                        text = str(value)
                        value = numbers[text] if text in numbers else numbers.setdefault(text, to_value(text))
                        if value is None:
                            continue
                    times.append(ts)
                    values.append(value)
                if partials := sum_up(times, values, width):
                    out[entity_id] = partials
            return out

        return await asyncio.to_thread(summed)

    async def entities_between(self, start: float, end: float) -> list[str]:
        """Return the entities with raw points in [start, end), so that they can be read a few at a time.

        This default reads the points themselves; backends with an index answer without them.
        """
        return list(await self.read_states(None, start, end))

    async def read_tier_values(
        self, tier: str, entity_ids: Iterable[str], start: float, end: float
    ) -> dict[str, list[tuple[float, float, float, float, float, float]]]:
        """Return (start, mean, min, max, last, delta) tuples per entity, as read_tier, built cheaply."""
        rows = await self.read_tier(tier, entity_ids, start, end)
        return {entity_id: [(r.start, r.mean, r.min, r.max, r.last, r.delta) for r in found] for entity_id, found in rows.items()}

    async def hour_totals_before(self, entity_ids: Iterable[str], before: float) -> dict[str, float]:
        """Return each entity's summed hour-tier delta before a time (the base of an absolute sum).

        Backends that keep the delta of purged hours fold it in; this default reads the tier.
        """
        rows = await self.read_tier("hour", entity_ids, 0.0, before)
        return {entity_id: sum(r.delta for r in found) for entity_id, found in rows.items()}

    @abstractmethod
    async def read_attributes(
        self, entity_ids: Iterable[str], start: float, end: float
    ) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        """Return attribute changes in [start, end) per entity, led by the one in force at start."""

    @abstractmethod
    async def last_values(self, before: float, entity_ids: Iterable[str] | None = None) -> dict[str, float]:
        """Return each entity's last numeric value before a time."""

    @abstractmethod
    async def write_tier(self, tier: str, rows: list[TierRow]) -> None:
        """Store tier rows, replacing rows of the same (entity_id, start)."""

    @abstractmethod
    async def read_tier(
        self, tier: str, entity_ids: Iterable[str] | None, start: float, end: float
    ) -> dict[str, list[TierRow]]:
        """Return the tier rows whose bucket starts in [start, end), per entity, oldest first."""

    @abstractmethod
    async def purge(
        self,
        tier: str,
        before: float,
        *,
        only: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
    ) -> None:
        """Delete rows of tier ("raw" or a TIERS name) older than before.

        Args:
            tier: "raw", "fifteen_second", "minute", "five_minute", "hour" or "day".
            before: epoch seconds; rows with ts (or bucket start) < before go.
            only: limit to these entities (a per-entity retention override).
            exclude: keep these entities (they have their own override).
        """

    async def retention_hint(self, retention: Mapping[str, float]) -> None:  # noqa: B027
        """Let a backend map tier retentions onto its own (InfluxDB retention policies)."""


def group(rows: Iterable[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Group (entity_id, *rest) rows into {entity_id: [rest...]} preserving order."""
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(row)
    return out


def as_error(backend: str, err: BaseException) -> BackendError:
    """Wrap a driver error into a BackendError naming the backend."""
    message = f"{backend}: {type(err).__name__}: {err}"
    return BackendError(message)
