"""HTTP ingestion: devices that cannot speak MQTT post telemetry with an API key.

    http_ingest:
      rate_limit: 10      # requests per second per key, on average
      burst: 20           # requests a key may send at once

    curl -H "X-API-Key: phk_..." -d '{"device": "garden", "measurements": {"temperature": 21.5}}' \\
         http://hub:8123/api/v1/telemetry

Keys are made by admins (`POST /api/v1/apikeys`, the WebSocket command
`http_ingest/apikey/create`, or `hub apikey create NAME [--device D] [--backfill-days N]
[--expires-days N]`), shown once,
stored hashed, with expiry, last use and a use count, and revocable
(`DELETE /api/v1/apikeys/{id}`, `http_ingest/apikey/revoke`, `hub apikey revoke ID`).
`Authorization: Bearer phk_...` works as well as `X-API-Key`.

Each key belongs to one device (`device`, default: the slug of its name) and may backfill
`backfill_days` (default 7, the device's buffer). Measurements become that device's entities
(see payload.py for the body): numbers and text as sensor.<device>_<name>, booleans as
binary_sensor, JSON objects as attributes; they are registered under the device, so renames
stick and they come back after a restart. A reading with a time older than the entity's
present state goes to history at that time (the recorder's backfill) and leaves the live
state alone. A key over its rate gets 429 with Retry-After; a wrong, expired or revoked key
(revoked from anywhere: checked on every request) gets 401, is counted in
sensor.http_ingest_rejected_requests, and never changes a state. A key that writes for
another device, an entity id that is not its device's (the hub's own, another device's), or
a reading older than its window gets 403 with the reason, audited (ownership.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from hub.api.device_keys import DEVICE_KEYS, DeviceCredential
from hub.core.context import Context
from hub.core.entity import SensorEntity
from hub.core.hub import Hub
from hub.core.runtime import HubKey
from hub.exceptions import HubError
from hub.homes.owners import HOME_IDS
from hub.util import slugify
from integrations.http_ingest import ownership
from integrations.http_ingest.cli import run_apikey_command  # noqa: F401 - what `hub apikey` runs
from integrations.http_ingest.keys import ApiKey, ApiKeyStore
from integrations.http_ingest.payload import Measurement
from integrations.http_ingest.ratelimit import RateLimiter

if TYPE_CHECKING:
    from aiohttp import web

_LOGGER = logging.getLogger(__name__)
DOMAIN = "http_ingest"
USAGE_FLUSH_SECONDS = 5.0

CONFIG_SCHEMA = vol.Schema(
    vol.Any(
        None,
        {
            vol.Optional("rate_limit", default=10.0): vol.All(vol.Coerce(float), vol.Range(min=0.001)),
            vol.Optional("burst", default=20): vol.All(vol.Coerce(int), vol.Range(min=1)),
        },
    )
)


class RejectedRequests(SensorEntity):
    """How many telemetry requests came with a missing, wrong, expired or revoked key."""

    def __init__(self) -> None:
        self.entity_id = "sensor.http_ingest_rejected_requests"
        self.name = "HTTP ingest rejected requests"
        self.state_class = "total_increasing"
        self.icon = "mdi:key-alert"
        self.native_value = 0


class Ingest:
    """The running integration: keys, rate limits, the rejected counter, and the state writer."""

    def __init__(self, hub: Hub, keys: ApiKeyStore, limiter: RateLimiter) -> None:
        self.hub = hub
        self.keys = keys
        self.limiter = limiter
        self.counter = RejectedRequests()
        self._last_log = [-1e9]
        self._last_forbidden = [-1e9]

    async def device_credential(self, raw: str) -> DeviceCredential | None:
        """Return the device a valid key belongs to (how readers such as GET /api/v1/telemetry check keys)."""
        key = await self.keys.check(raw)
        if key is None or key.device is None:
            return None
        device = self.hub.require_device_registry().get_by_identifier(ownership.PLATFORM, key.device)
        return DeviceCredential(key.device, device.id if device is not None else None)

    def rejected(self, remote: str | None, why: str) -> None:
        """Count (and now and then log) a refused key."""
        from integrations.http_ingest.views import log_rejection

        self.counter.native_value += 1
        self.counter.write_state()
        log_rejection(remote, f"API key {why} (counted in sensor.http_ingest_rejected_requests)", self._last_log)

    def forbidden(self, key: ApiKey, remote: str | None, why: str) -> None:
        """Audit (and now and then log) a write the key may not make."""
        from integrations.http_ingest.views import log_rejection

        auth = self.hub.auth
        if auth is not None:
            auth.audit.record(None, "telemetry", f"device={key.device}", "refused", remote,
                              user_name=f"apikey {key}", reason=why)
        log_rejection(remote, f"API key {key}: {why}", self._last_forbidden)

    async def write(
        self, measurements: list[Measurement], key: ApiKey, device: str | None, context: Context
    ) -> dict[str, Any]:
        """Check the key may write these (else Forbidden), set live states, send late readings to history.

        Raises:
            Forbidden: another device's body or entity, or a reading older than the key's window.
        """
        if key.device is None:  # a key from before device binding: its first use binds it
            key = await self.keys.bind(key, device or slugify(key.name, fallback="device"))
            _LOGGER.warning("API key %s is now bound to device '%s' (its first request since device binding)",
                            key, key.device)
        ownership.check_window(key, measurements)
        new = ownership.resolve(self.hub, key, device, measurements)
        await ownership.register(self.hub, key, measurements, new)
        states = self.hub.states
        now = time.time()
        live: list[str] = []
        late: dict[str, list[tuple[float, str]]] = {}
        for m in measurements:
            current = states.get(m.entity_id)
            ts = None if m.ts is None else min(m.ts, now)  # a device clock ahead must not stamp the future
            if ts is not None and current is not None and ts < current.last_updated_timestamp:
                late.setdefault(m.entity_id, []).append((ts, m.state))
                continue
            attributes = m.attributes if current is None else {**current.attributes, **m.attributes}
            states.set(m.entity_id, m.state, attributes, context=context, timestamp=ts)
            live.append(m.entity_id)
        backfilled = 0
        if late:
            from hub.recorder import get_recorder

            recorder = get_recorder(self.hub)
            if recorder is None:
                _LOGGER.warning("Dropped %d late readings from key %r: the recorder is not running", sum(map(len, late.values())), key.name)
            else:
                for entity_id, points in late.items():
                    backfilled += await recorder.backfill(entity_id, points)
        return {"written": len(live), "backfilled": backfilled, "entities": sorted({m.entity_id for m in measurements})}


INGEST: HubKey[Ingest] = HubKey("http_ingest")


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Open the key store, add the rejected-requests sensor, write usage counts in the background."""
    config = CONFIG_SCHEMA(config) or CONFIG_SCHEMA({})
    if hub.db is None:
        message = "http_ingest needs the hub's database for its API keys"
        raise HubError(message)
    # In a multi-home hub each key's requests reach this home by the key (hub/homes/owners.py).
    ids = hub.runtime.get(HOME_IDS)
    keys = ApiKeyStore(hub.db, ids.claim_key if ids is not None else None)
    if ids is not None:

        async def claim_keys() -> None:
            for digest in await keys.digests():
                ids.claim_key(digest)

        await claim_keys()
        # Keys made from a shell (`hub apikey create --home`) while the hub runs route at once.
        hub.on_stop(ids.on_keys_changed(claim_keys))
    ingest = Ingest(hub, keys, RateLimiter(config["rate_limit"], config["burst"]))
    hub.runtime[INGEST] = ingest
    hub.runtime[DEVICE_KEYS] = ingest.device_credential
    await hub.entities.add(ingest.counter, DOMAIN)

    async def write_usage() -> None:
        while True:
            await asyncio.sleep(USAGE_FLUSH_SECONDS)
            try:
                await ingest.keys.flush()
            except Exception:  # noqa: BLE001 - counts stay queued for the next try
                _LOGGER.exception("Writing API key usage failed")

    task = hub.create_task(write_usage(), "http_ingest key usage")

    async def stop() -> None:
        task.cancel()
        hub.runtime.pop(INGEST)
        hub.runtime.pop(DEVICE_KEYS)
        await ingest.keys.flush()

    hub.on_stop(stop)


def ingest_of(hub: Hub) -> Ingest | None:
    """Return the hub's running ingestion (for tests and the WebSocket commands)."""
    return hub.runtime.get(INGEST)


def _running(hub: Hub) -> Ingest:
    ingest = ingest_of(hub)
    if ingest is None:
        message = "http_ingest is not running on this hub"
        raise HubError(message)
    return ingest


@hookimpl
def register_http_routes(hub: Hub, app: web.Application) -> None:
    """Add /api/v1/telemetry and /api/v1/apikeys."""
    from integrations.http_ingest.views import add_routes

    ingest = ingest_of(hub)
    if ingest is not None:
        add_routes(app, ingest)


@hookimpl
def register_websocket_commands(hub: Hub, register: Any) -> None:
    """Add http_ingest/apikey/create, /list and /revoke (admins only)."""

    async def create(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
        ingest = _running(hub)
        audit = hub.require_auth().audit
        try:
            raw, key = await ingest.keys.create(msg["name"], msg.get("expires_days"), connection.user.id,
                                                device=msg.get("device"), backfill_days=msg["backfill_days"])
        except ValueError as err:
            connection.send_error(msg["id"], "invalid_format", str(err))
            return
        audit.record(connection.user, "create_api_key", f"{key.id} {key.prefix} device={key.device}", "ok",
                     getattr(connection, "remote", None))
        connection.send_result(msg["id"], {**key.as_dict(), "key": raw})

    async def listing(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
        connection.send_result(msg["id"], [key.as_dict() for key in await _running(hub).keys.list()])

    async def revoke(hub: Hub, connection: Any, msg: dict[str, Any]) -> None:
        ingest = _running(hub)
        audit = hub.require_auth().audit
        if not await ingest.keys.revoke(msg["key_id"]):
            connection.send_error(msg["id"], "not_found", "No live key with this id")
            return
        audit.record(connection.user, "revoke_api_key", msg["key_id"], "ok", getattr(connection, "remote", None))
        connection.send_result(msg["id"], {"id": msg["key_id"], "revoked": True})

    name = vol.All(str, vol.Length(min=1, max=100))
    days = vol.All(vol.Coerce(float), vol.Range(min=0.001))
    backfill = vol.All(vol.Coerce(float), vol.Range(min=0.001, max=3650))
    register("http_ingest/apikey/create", create, {
        vol.Required("name"): name, vol.Optional("expires_days"): days, vol.Optional("device"): name,
        vol.Optional("backfill_days", default=7.0): backfill,
    }, admin_only=True)
    register("http_ingest/apikey/list", listing, None, admin_only=True)
    register("http_ingest/apikey/revoke", revoke, {vol.Required("key_id"): str}, admin_only=True)
