"""Which home owns a webhook id or a device key: requests that name no home still reach theirs.

A webhook (`/api/webhook/<id>`, unauthenticated: the id is the secret, as in Home Assistant) and
a device's request with its API key (`POST /api/v1/telemetry`, `GET /api/v1/telemetry`) carry
no user token and usually no `X-Home-Id`. The homes of the process fill one table (`IdOwners`,
held by the host) through the slot `runtime[HOME_IDS]` of their core: the webhook trigger claims
its id while it is attached, http_ingest claims the digest of every key its home has and makes.
The dispatcher (hub/homes/dispatch.py) asks `owner_of(request)` before it falls back on the
first home:

- a webhook id held by exactly one home goes to that home; one that no home holds, or that more
  than one home holds, goes to none and is answered as Home Assistant answers an unknown id
  (`200`, nothing runs): it never reaches another home. A request that names its home
  (`?home_id=` or `X-Home-Id`) reaches that home's webhook whatever other homes use;
- a device key goes to the home that made it; a key no home has (mistyped, or made by
  `hub apikey create` a moment ago, before its home heard of it) goes to the first home, which
  answers `401` as for any wrong key.

A single-home hub has no table and no slot: nothing here runs for it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from hub.api.auth_middleware import device_key
from hub.api.responses import json_message
from hub.core.runtime import HubKey

_LOGGER = logging.getLogger(__name__)
WEBHOOK_PATH = "/api/webhook/"
KEY_PREFIX = "phk_"  # what a device key starts with (integrations/http_ingest/keys.py)
MAX_KEY_LENGTH = 100


class _Nowhere:
    def __repr__(self) -> str:
        return "NOWHERE"


NOWHERE: Final = _Nowhere()  # a request that must reach no home (an unknown or shared webhook id)


class HomeIds:
    """What one home's core sees: claim its webhook ids and device keys in the process's table."""

    def __init__(self, table: IdOwners, home_id: str) -> None:
        self._table = table
        self.home_id = home_id

    def claim_webhook(self, webhook_id: str) -> Callable[[], None]:
        """Route unnamed requests for this webhook id here; return what releases the claim."""
        holders = self._table.webhooks.setdefault(webhook_id, {})
        holders[self.home_id] = holders.get(self.home_id, 0) + 1
        if len(holders) == 2 and holders[self.home_id] == 1:
            _LOGGER.warning(
                "Webhook id %r is used by another home of this hub too: requests for it reach a home only when "
                "they name it (?home_id=<home> or the X-Home-Id header). Give the webhook a long random id",
                webhook_id)

        def release() -> None:
            held = self._table.webhooks.get(webhook_id, {})
            count = held.get(self.home_id, 0) - 1
            if count > 0:
                held[self.home_id] = count
            else:
                held.pop(self.home_id, None)
            if not held:
                self._table.webhooks.pop(webhook_id, None)

        return release

    def claim_key(self, digest: str) -> None:
        """Route requests with the device key of this SHA-256 digest (hex) here."""
        self._table.keys[digest] = self.home_id

    def on_keys_changed(self, reclaim: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        """Have `reclaim` (which claims the home's keys again) run when keys are made from outside
        the process (`hub apikey create --home`); return what stops it."""
        self._table.reclaimers[self.home_id] = reclaim

        def release() -> None:
            if self._table.reclaimers.get(self.home_id) is reclaim:
                del self._table.reclaimers[self.home_id]

        return release


HOME_IDS: HubKey[HomeIds] = HubKey("homes.ids")


class IdOwners:
    """The process's table: webhook id -> {home id: claims}, device key digest -> home id."""

    def __init__(self) -> None:
        self.webhooks: dict[str, dict[str, int]] = {}
        self.keys: dict[str, str] = {}
        self.reclaimers: dict[str, Callable[[], Awaitable[None]]] = {}  # home id -> claims its keys again

    async def keys_changed(self, home_id: str | None) -> None:
        """A home's keys (every home's: None) were made from outside the process: let it claim them again."""
        if home_id is None:
            for every in list(self.reclaimers.values()):
                await every()
            return
        reclaim = self.reclaimers.get(home_id)
        if reclaim is not None:
            await reclaim()

    def of_home(self, home_id: str) -> HomeIds:
        """Return the handle a home's core claims through (its `runtime[HOME_IDS]`)."""
        return HomeIds(self, home_id)

    def keep_only(self, home_ids: set[str]) -> None:
        """Forget the keys and webhook ids of every home not among these (homes stopped)."""
        self.keys = {digest: home for digest, home in self.keys.items() if home in home_ids}
        for webhook_id, holders in list(self.webhooks.items()):
            for home in [h for h in holders if h not in home_ids]:
                del holders[home]
            if not holders:
                del self.webhooks[webhook_id]

    def owner_of(self, request: web.Request) -> str | _Nowhere | None:
        """The home id a request that names no home belongs to, NOWHERE for a webhook id that is
        unknown or shared, None when the request is none of these (the dispatcher decides)."""
        if request.path.startswith(WEBHOOK_PATH):
            holders = self.webhooks.get(request.path[len(WEBHOOK_PATH):], {})
            return next(iter(holders)) if len(holders) == 1 else NOWHERE
        key = _device_key(request)
        if key is None:
            return None
        return self.keys.get(hashlib.sha256(key.encode("utf-8")).hexdigest())


def _device_key(request: web.Request) -> str | None:
    key = device_key(request)
    return key if key is not None and key.startswith(KEY_PREFIX) and len(key) <= MAX_KEY_LENGTH else None


def unrouted(request: web.Request, *, named: bool) -> web.Response:
    """The answer to a request that reaches no home: a webhook that names no home as an unknown
    id is answered (200); a request that names a home it may not see, 404 as on every route."""
    if request.path.startswith(WEBHOOK_PATH) and not named:
        return web.Response(status=200)
    return json_message("404: Not Found", 404)
