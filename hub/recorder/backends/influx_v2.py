"""InfluxDB 2.x / 3.x / Cloud history through influxdb-client: async writes, Flux queries.

Same layout as the 1.x backend (measurements state, attributes, fifteen_second, minute, five_minute, hour,
day; tag entity_id), all in one bucket whose retention the user sets on the bucket; per-entity
overrides are applied with the delete API. Points are identified by measurement, tags and
timestamp, so a replayed batch overwrites itself.

Every point carries its home in the tags `tenant` and `home`, and every query filters on them
(points from before homes have neither and are the default home's). A home on a plan writes into
its plan's bucket, `<bucket>_<plan>`, which the backend creates with a retention rule of the
plan's longest tier (none when unlimited); shorter tiers (raw points) are deleted per home.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.domain.write_precision import WritePrecision

from hub.core.scope import DEFAULT_SCOPE, HomeScope
from hub.recorder.backends.base import TIERS, BackendError, Batch, HistoryBackend, Sample, TierRow, as_error
from hub.recorder.backends.influx_v1 import _micros, _string, home_tags, refused_for_good, write_bodies

# The client's requests are aiohttp's: a connection cut mid-answer is an aiohttp.ClientError.
_ERRORS = (InfluxDBError, OSError, TimeoutError, aiohttp.ClientError)


def _flux_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _flux_set(entity_ids: Iterable[str]) -> str:
    return "[" + ", ".join(orjson.dumps(e).decode() for e in entity_ids) + "]"


def _ts(record: Any) -> float:
    when: datetime = record.get_time()  # a FluxRecord's _time; influxdb-client leaves get_time() untyped
    return when.timestamp()


class InfluxV2Backend(HistoryBackend):
    """History in an InfluxDB 2.x-compatible bucket."""

    name = "influxdb2"

    def __init__(
        self,
        url: str,
        token: str,
        org: str,
        bucket: str,
        *,
        timeout_ms: int = 30_000,
        scope: HomeScope = DEFAULT_SCOPE,
        plan: str | None = None,
    ) -> None:
        """Serve one home's history (scope); a home on a plan writes into its plan's bucket."""
        self.url = url
        self.token = token
        self.org = org
        self.bucket = bucket if plan is None else f"{bucket}_{plan}"
        self.plan = plan
        self.scope = scope
        self.timeout_ms = timeout_ms
        self.bucket_seconds: float | None = None  # the plan bucket's retention (None: not set by the hub)
        self._tags = home_tags(scope)
        tenant, home = orjson.dumps(scope.tenant_id).decode(), orjson.dumps(scope.home_id).decode()
        same = f"r.tenant == {tenant} and r.home == {home}"
        untagged = "not exists r.tenant and not exists r.home"
        self._home = f"|> filter(fn: (r) => ({same}) or ({untagged}))" if scope == DEFAULT_SCOPE else f"|> filter(fn: (r) => {same})"
        self._client: InfluxDBClientAsync | None = None

    def _api(self) -> InfluxDBClientAsync:
        if self._client is None:
            self._client = InfluxDBClientAsync(self.url, self.token, org=self.org, timeout=self.timeout_ms)
        return self._client

    async def retention_hint(self, retention: Mapping[str, float]) -> None:
        """Create a plan's bucket with a retention rule of its longest tier (or update the rule)."""
        if self.plan is None:
            return  # the user's own bucket, whose retention the user sets
        longest = max(retention.values())
        every = 0 if math.isinf(longest) else max(int(longest), 3600)
        rules = [{"type": "expire", "everySeconds": every}]
        headers = {"Authorization": f"Token {self.token}"}
        api = f"{self.url.rstrip('/')}/api/v2"
        try:
            async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout_ms / 1000)) as http:
                async with http.get(f"{api}/buckets", params={"name": self.bucket, "org": self.org}) as response:
                    found = (await self._json(response))["buckets"]
                if found:
                    if found[0].get("retentionRules") != rules:
                        async with http.patch(f"{api}/buckets/{found[0]['id']}", json={"retentionRules": rules}) as response:
                            await self._json(response)
                else:
                    async with http.get(f"{api}/orgs", params={"org": self.org}) as response:
                        org_id = (await self._json(response))["orgs"][0]["id"]
                    body = {"orgID": org_id, "name": self.bucket, "retentionRules": rules}
                    async with http.post(f"{api}/buckets", json=body) as response:
                        await self._json(response)
        except (aiohttp.ClientError, OSError, TimeoutError, KeyError, IndexError) as err:
            raise as_error(self.name, err) from err
        self.bucket_seconds = math.inf if every == 0 else float(every)

    async def _json(self, response: aiohttp.ClientResponse) -> dict[str, Any]:
        body = await response.read()
        if response.status >= 300:
            message = f"{self.name}: {response.method} {response.url.path} answered {response.status}: {body[:300].decode(errors='replace')}"
            raise BackendError(message)
        answer: dict[str, Any] = orjson.loads(body)
        return answer

    async def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]  # influxdb-client leaves close() unannotated
            self._client = None

    async def _write(self, lines: list[str]) -> None:
        """Write lines in bounded requests, in order, as the 1.x backend does; raise at the first one refused
        (a retry of the whole batch overwrites what the requests before it stored)."""
        if not lines:
            return
        try:
            write_api = self._api().write_api()
            for body in write_bodies(lines):
                # WritePrecision's values are plain strings, though write() annotates the parameter as WritePrecision.
                await write_api.write(self.bucket, self.org, body, write_precision=WritePrecision.US)  # type: ignore[arg-type]
        except _ERRORS as err:
            # The server's own message (the client's str() leads with the headers; a body that is
            # not its JSON error stays bytes).
            said = getattr(err, "message", None) or str(err)
            refused = refused_for_good(self.name, said.decode(errors="replace") if isinstance(said, bytes) else str(said))
            if refused is not None:
                raise refused from err
            raise as_error(self.name, err) from err

    async def write(self, batch: Batch) -> None:
        """Write a batch as line protocol through the v2 write API."""
        tags = self._tags
        lines = [
            f"state,entity_id={e}{tags} value={v!r}{f',state={_string(s)}' if s is not None else ''} {_micros(t)}"
            if v is not None
            else f"state,entity_id={e}{tags} state={_string(s or '')} {_micros(t)}"
            for e, t, v, s in batch.points
        ]
        lines += [f"attributes,entity_id={a.entity_id}{tags} json={_string(a.attributes)} {_micros(a.ts)}" for a in batch.attributes]
        await self._write(lines)

    async def write_tier(self, tier: str, rows: list[TierRow]) -> None:
        """Write tier rows (same timestamp overwrites)."""
        assert tier in TIERS
        await self._write(
            [
                f"{tier},entity_id={r.entity_id}{self._tags} mean={r.mean!r},min={r.min!r},max={r.max!r},last={r.last!r},"
                f"delta={r.delta!r},count={r.count}i {_micros(r.start)}"
                for r in rows
            ]
        )

    async def _query(self, flux: str) -> list[Any]:
        try:
            tables = await self._api().query_api().query(flux, org=self.org)
        except _ERRORS as err:
            raise as_error(self.name, err) from err
        return [record for table in tables for record in table.records]

    def _from(self, measurement: str, start: float, end: float, entity_ids: list[str] | None) -> str:
        flux = (
            f'from(bucket: {orjson.dumps(self.bucket).decode()}) |> range(start: {_flux_time(start)}, stop: {_flux_time(end)}) '
            f'|> filter(fn: (r) => r._measurement == "{measurement}") {self._home}'
        )
        if entity_ids is not None:
            flux += f" |> filter(fn: (r) => contains(value: r.entity_id, set: {_flux_set(entity_ids)}))"
        return flux

    async def read_states(
        self, entity_ids: Iterable[str] | None, start: float, end: float, *, include_start: bool = False
    ) -> dict[str, list[Sample]]:
        """Return points per entity in [start, end)."""
        ids = None if entity_ids is None else list(entity_ids)
        out: dict[str, list[Sample]] = {}
        pivot = (
            '|> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value") '
            '|> group(columns: ["entity_id"]) |> sort(columns: ["_time"])'
        )
        if include_start:
            flux = f"{self._from('state', 0, start, ids)} |> last() {pivot}"
            for record in await self._query(flux):
                out.setdefault(record["entity_id"], []).append(Sample(_ts(record), record.values.get("value"), record.values.get("state")))
        for record in await self._query(f"{self._from('state', start, end, ids)} {pivot}"):
            out.setdefault(record["entity_id"], []).append(Sample(_ts(record), record.values.get("value"), record.values.get("state")))
        return out

    async def read_attributes(
        self, entity_ids: Iterable[str], start: float, end: float
    ) -> dict[str, list[tuple[float, dict[str, Any]]]]:
        """Return attribute changes, led by the set in force at start."""
        ids = list(entity_ids)
        out: dict[str, list[tuple[float, dict[str, Any]]]] = {}
        for flux in (f"{self._from('attributes', 0, start, ids)} |> last()", self._from("attributes", start, end, ids)):
            for record in await self._query(flux):
                out.setdefault(record["entity_id"], []).append((_ts(record), orjson.loads(record.get_value())))
        for rows in out.values():
            rows.sort(key=lambda row: row[0])
        return out

    async def last_values(self, before: float, entity_ids: Iterable[str] | None = None) -> dict[str, float]:
        """Return each entity's last numeric value before a time."""
        ids = None if entity_ids is None else list(entity_ids)
        flux = f'{self._from("state", 0, before, ids)} |> filter(fn: (r) => r._field == "value") |> last()'
        return {record["entity_id"]: record.get_value() for record in await self._query(flux)}

    async def read_tier(
        self, tier: str, entity_ids: Iterable[str] | None, start: float, end: float
    ) -> dict[str, list[TierRow]]:
        """Return tier rows per entity."""
        assert tier in TIERS
        ids = None if entity_ids is None else list(entity_ids)
        flux = (
            f'{self._from(tier, start, end, ids)} |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value") '
            '|> group(columns: ["entity_id"]) |> sort(columns: ["_time"])'
        )
        out: dict[str, list[TierRow]] = {}
        for r in await self._query(flux):
            name = r["entity_id"]
            out.setdefault(name, []).append(
                TierRow(name, _ts(r), r["mean"], r["min"], r["max"], r["last"], r["delta"], int(r["count"]))
            )
        return out

    async def purge(
        self, tier: str, before: float, *, only: Iterable[str] | None = None, exclude: Iterable[str] = ()
    ) -> None:
        """Delete per-entity overrides' old data; the bucket's retention expires the rest."""
        measurements = ["state"] if tier == "raw" else [tier]
        # A plan's bucket holds many homes: a delete names the home (the user's own bucket is one home's).
        home = "" if self.plan is None else f' AND tenant="{self.scope.tenant_id}" AND home="{self.scope.home_id}"'
        if only is None:
            # A tier kept shorter than the plan's bucket goes by deleting the home's points; the
            # bucket's retention applies to everything else. (Delete predicates cannot say "not
            # these entities": with overrides, the tier waits for the bucket's retention.)
            expires = self.bucket_seconds
            if self.plan is None or list(exclude) or expires is None or before <= datetime.now(UTC).timestamp() - expires:
                return
            targets: list[str | None] = [None]
        else:
            targets = list(only)
        start = datetime.fromtimestamp(0, UTC)
        stop = datetime.fromtimestamp(before, UTC)
        try:
            delete = self._api().delete_api()
            for measurement in measurements:
                for entity_id in targets:
                    entity = "" if entity_id is None else f' AND entity_id="{entity_id}"'
                    predicate = f'_measurement="{measurement}"{entity}{home}'
                    await delete.delete(start, stop, predicate, self.bucket, self.org)
        except _ERRORS as err:
            raise as_error(self.name, err) from err
