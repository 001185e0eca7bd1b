"""Persistent notifications: created by services, kept in the database, listed and dismissed over WS."""

from __future__ import annotations

from pathlib import Path

from hub.core.hub import Hub
from integrations.notify import persistent
from tests.api.conftest import PASSWORD, WsClient
from tests.hubs import write_config


async def test_create_replace_and_dismiss_in_memory(setup_notify) -> None:
    hub: Hub = await setup_notify([])
    hub.states.set("sensor.washer_power", "2")
    await hub.services.call("persistent_notification", "create", {
        "message": "Washer at {{ states('sensor.washer_power') }} W", "title": "Laundry", "notification_id": "washer"})
    await hub.services.call("notify", "persistent_notification", {"message": "Relay 1 off", "title": "Power"})
    store = persistent.store_of(hub)
    assert store is not None
    items = [n.as_dict() for n in store.all()]
    assert [(n["title"], n["message"]) for n in items] == [("Laundry", "Washer at 2 W"), ("Power", "Relay 1 off")]
    assert items[0]["created_at"] == "2024-03-01T12:00:00+00:00"  # the hub's clock

    await hub.services.call("persistent_notification", "create", {"message": "done", "notification_id": "washer"})
    assert store.get("washer").message == "done"  # type: ignore[union-attr]
    await hub.services.call("persistent_notification", "dismiss", {"notification_id": "washer"})
    assert [n.title for n in store.all()] == ["Power"]
    await hub.services.call("persistent_notification", "dismiss_all", {})
    assert store.all() == []


async def test_notify_notify_without_targets_shows_in_the_web_ui(setup_notify) -> None:
    hub: Hub = await setup_notify([])
    await hub.services.call("notify", "notify", {"message": "Daily energy: 12 kWh"})
    store = persistent.store_of(hub)
    assert [n.message for n in store.all()] == ["Daily energy: 12 kWh"]  # type: ignore[union-attr]


async def test_list_subscribe_dismiss_over_websocket_and_kept_across_restart(tmp_path: Path, start_hub) -> None:  # noqa: F811
    import aiohttp

    config = write_config(tmp_path / "config", "persistent_notification:\nnotify:\n")
    runtime = await start_hub(config)
    hub = runtime.hub
    hub.auth._rounds = 4
    user = await hub.auth.add_user("owner", PASSWORD, "owner")
    token = await hub.auth.create_long_lived_token(user.id, "test")
    async with aiohttp.ClientSession() as session:
        ws = await WsClient.open(session, runtime.url)
        await ws.authenticate(token)
        sub = await ws.send_command("persistent_notification/subscribe")
        assert (await ws.result(sub))["success"]
        assert await ws.event(sub) == {"type": "current", "notifications": {}}

        await ws.command("call_service", domain="notify", service="persistent_notification",
                         service_data={"message": "Relay 1 switched off", "title": "Overpower",
                                       "data": {"notification_id": "relay1"}})
        added = await ws.event(sub)
        assert added["type"] == "added"
        assert added["notifications"]["relay1"]["message"] == "Relay 1 switched off"

        listed = await ws.command("persistent_notification/get")
        assert [(n["notification_id"], n["title"]) for n in listed] == [("relay1", "Overpower")]
        assert await ws.command("notify/list") == listed
        await ws.command("call_service", domain="persistent_notification", service="create",
                         service_data={"message": "second", "notification_id": "n2"})
        await ws.event(sub)
        await ws.ws.close()

    await runtime_restart(start_hub, runtime, config, tmp_path)


async def runtime_restart(start_hub, runtime, config: Path, tmp_path: Path) -> None:  # noqa: F811
    import aiohttp

    from hub import bootstrap

    await bootstrap.stop(runtime)
    again = await start_hub(config)
    hub = again.hub
    [user] = await hub.auth.list_users()
    token = await hub.auth.create_long_lived_token(user.id, "again")
    async with aiohttp.ClientSession() as session:
        ws = await WsClient.open(session, again.url)
        await ws.authenticate(token)
        listed = await ws.command("notify/list")
        assert [n["notification_id"] for n in listed] == ["relay1", "n2"]
        assert await ws.command("notify/dismiss", notification_id="relay1") == {"dismissed": ["relay1"]}
        error = await ws.error("notify/dismiss", notification_id="relay1")
        assert error["code"] == "not_found"
        assert [n["notification_id"] for n in await ws.command("persistent_notification/get")] == ["n2"]
        await ws.ws.close()
    missing, dismissed = await hub.auth.audit.entries(action="dismiss_notification")  # newest first
    assert (dismissed.user_name, dismissed.target, dismissed.result) == ("owner", "relay1", "ok")
    assert (missing.target, missing.result) == ("relay1", "not_found")


async def test_a_notification_raised_and_dismissed_in_quick_turns_ends_as_the_last_call_says(tmp_path: Path, start_hub) -> None:  # noqa: F811
    """The recorder raises and dismisses its spool notification as the disk fills and frees; the
    calls overlap. Each lands in the database in the order it was made, without a failed write."""
    import asyncio

    from sqlalchemy import select

    from integrations.notify.persistent import store_of
    from integrations.notify.persistent.models import PersistentNotificationRow

    runtime = await start_hub(write_config(tmp_path / "config", "persistent_notification:\n"))
    hub = runtime.hub
    calls = []
    for turn in range(31):
        if turn % 2 == 0:
            calls.append(hub.services.call("persistent_notification", "create",
                                           {"notification_id": "spool", "message": f"full {turn}"}))
        else:
            calls.append(hub.services.call("persistent_notification", "dismiss", {"notification_id": "spool"}))
    await asyncio.gather(*calls)  # a StaleDataError from an interleaved write fails this
    store = store_of(hub)
    assert store is not None and [n.message for n in store.all()] == ["full 30"]
    async with hub.require_db()() as session:
        rows = (await session.execute(select(PersistentNotificationRow))).scalars().all()
    assert [(r.notification_id, r.message) for r in rows] == [("spool", "full 30")]
