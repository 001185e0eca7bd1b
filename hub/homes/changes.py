"""Start and stop homes of a running host as the tenancy store changes (docs/homes.md).

`reconcile(host, records)` makes the host serve exactly `records`: a home no longer among them
(removed, its tenant suspended or removed) stops; a home whose record changed (topic root, plan,
name, time zone, currency) stops and starts again with it; a new one starts. The other homes are
not touched: their cores, sockets and MQTT connections go on.

A home leaves in this order (docs/homes.md, "Leaving a running hub"), as at a hub stop:
1. it leaves the host's table: its next request answers 404 as a home that does not exist, and
   its open sockets send nothing more from this moment (hub.api.send_queue.silence);
2. it leaves what the process shares (the `home_leaving` hook): its MQTT filters leave the
   process's one connection, kept at the broker while it is away when it comes back (suspended,
   changed), the other homes' acknowledgements never waiting on it;
3. its requests being served (its open WebSockets too) are cancelled;
4. its web app shuts down and its core stops.
Its data stays: its rows are the store's (`hub home remove` deletes them, `hub tenant suspend`
keeps them), its folders `<config>/homes/<id>/` and `<data>/homes/<id>/` stay on disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hub import bootstrap, plugins
from hub.api.send_queue import silence
from hub.homes import directory
from hub.homes.watch import DirectoryWatch
from hub.hookspecs import LEAVING_CHANGED, LEAVING_REMOVED, LEAVING_SUSPENDED
from hub.storage.engine import create_engine

if TYPE_CHECKING:
    from hub.homes.host import Home, HomeHost
    from hub.homes.record import HomeRecord

_LOGGER = logging.getLogger(__name__)
Failing = dict[str, tuple["HomeRecord", str]]  # home id -> the record and error logged for its failed start


async def reconcile(host: HomeHost, records: list[HomeRecord], suspended: Collection[str] = (),
                    failing: Failing | None = None) -> None:
    """Serve exactly these homes, in this order (see the module doc); a home that fails to start is logged.

    suspended: the ids of the homes of suspended tenants (they come back: their MQTT readings are
    kept at the broker meanwhile); a home neither served nor suspended was removed.
    `failing` (kept by the caller across calls): the homes that failed, with the record and error
    logged; a home failing again the same way is retried without a log line (see _failed).
    """
    assert host.started_with is not None, "the host's homes start with add_all first"
    async with host.changing:
        wanted = {record.home_id: record for record in records}
        if list(wanted) != list(host.homes):
            host.auth.forget_users()  # roles in homes come and go with them: read again
        for home_id, home in list(host.homes.items()):
            if wanted.get(home_id) != home.record:
                reason = (LEAVING_CHANGED if home_id in wanted else
                          LEAVING_SUSPENDED if home_id in suspended else LEAVING_REMOVED)
                why = {LEAVING_CHANGED: "its record changed", LEAVING_SUSPENDED: "its tenant was suspended",
                       LEAVING_REMOVED: "it was removed"}[reason]
                _LOGGER.info("Homes: stopping home %s (%s)", home.record.scope, why)
                await remove(host, home_id, reason)
        for record in records:
            if record.home_id in host.homes:
                continue
            try:
                await host.add(record, *host.started_with)
            except Exception as err:  # noqa: BLE001 - one home's failure must not stop the others
                _failed(record, err, failing)
                failed = host.homes.pop(record.home_id, None)
                if failed is not None:
                    await _stop(failed, LEAVING_CHANGED)
                continue
            recovered = failing is not None and failing.pop(record.home_id, None) is not None
            _LOGGER.info("Homes: started home %s (%s)%s", record.scope, record.name,
                         ", which failed to start before" if recovered else "")
        if failing is not None:
            for home_id in set(failing) - set(wanted):  # gone from the store: a return is news again
                del failing[home_id]
        host.homes = {home_id: host.homes[home_id] for home_id in wanted if home_id in host.homes}
        host.owners.keep_only(set(host.homes))  # keys and webhook ids of homes gone route nowhere


def _failed(record: HomeRecord, err: Exception, failing: Failing | None) -> None:
    """Log a home that could not start: once, and again when its record or its error changes.

    It is retried at every re-read (a file fixed, the database back): one line per retry would
    bury the log under the same error every minute.
    """
    said = (record, str(err))
    if failing is not None and failing.get(record.home_id) == said:
        return
    _LOGGER.error("Homes: home %s could not start (retried at every re-read of the homes, logged again if the "  # noqa: TRY400 - no traceback
                  "error changes): %s", record.scope, err)
    if failing is not None:
        failing[record.home_id] = said


async def remove(host: HomeHost, home_id: str, reason: str = LEAVING_REMOVED) -> None:
    """Stop serving one home (the module doc's order); reason: a hub.hookspecs LEAVING_* constant."""
    home = host.homes.pop(home_id, None)
    if home is not None:
        host.topic_roots.discard(home.record.topic_root)
        await _stop(home, reason)
        if host.auth.stores.get(home_id) is home.hub.auth:
            del host.auth.stores[home_id]


async def _stop(home: Home, reason: str) -> None:
    silence_home(home)
    await leaving(home, reason)
    await end_requests(home)
    await home.stop()


def silence_home(home: Home) -> None:
    """Send nothing more on the home's open sockets (it left the routing table a moment ago)."""
    if home.started:
        silence(home.app)


async def leaving(home: Home, reason: str) -> None:
    """Let the home's integrations leave what the process shares (the `home_leaving` hook)."""
    manager = home.hub.plugins
    if manager is None:
        return
    try:
        await plugins.call_hook(manager, "home_leaving", hub=home.hub, reason=reason)
    except Exception:  # its core stops next anyway: the others must not notice
        _LOGGER.exception("Homes: home %s could not leave cleanly", home.record.scope)


async def end_requests(home: Home) -> None:
    """Cancel the home's requests being served, its open sockets too, and wait a moment for them."""
    for task in list(home.requests):
        task.cancel()
    if home.requests:
        await asyncio.wait(list(home.requests), timeout=5)


def watch(host: HomeHost, config: dict[str, Any], url: str) -> DirectoryWatch:
    """The watch that keeps `host` serving the homes of the store (`url`: the application role's)."""
    owner_url = bootstrap.migration_url(config) or url
    reported: set[str] = set()  # homes that cannot be served, logged once
    failing: Failing = {}  # homes that failed to start, logged once per failure
    suspended: set[str] = set()  # the homes of suspended tenants, as of the last read

    async def reread() -> list[HomeRecord]:
        owner = create_engine(owner_url, poolclass=NullPool)  # one connection, for this read only
        try:
            served = await directory.served(owner, config["homes"], strict=False, reported=reported)
            suspended.clear()
            suspended.update(await directory.suspended(owner))
            return served
        finally:
            await owner.dispose()

    async def apply(records: list[HomeRecord]) -> None:
        await reconcile(host, records, suspended, failing)

    listen = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return DirectoryWatch(listen, reread, apply, keys_changed=host.owners.keys_changed)


__all__ = ["reconcile", "remove", "watch"]
