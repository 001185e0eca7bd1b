"""The event bus: delivery, match-all, filters, one-shot listeners, handler kinds."""

from __future__ import annotations

import asyncio
import threading

from hub.core.bus import MATCH_ALL, Event, EventOrigin, callback
from hub.core.context import Context
from hub.core.hub import Hub


async def test_callback_handlers_run_before_fire_returns(hub: Hub) -> None:
    seen: list[Event] = []
    hub.bus.listen("relay_clicked", callback(seen.append))

    hub.bus.fire("relay_clicked", {"relay": 1})

    assert [e.data for e in seen] == [{"relay": 1}]
    assert seen[0].event_type == "relay_clicked"
    assert seen[0].origin is EventOrigin.local


async def test_coroutine_handlers_run_as_tracked_tasks(hub: Hub) -> None:
    seen: list[dict] = []

    async def handler(event: Event) -> None:
        await asyncio.sleep(0)
        seen.append(event.data)

    hub.bus.listen("ping", handler)
    hub.bus.fire("ping", {"n": 1})
    assert seen == []  # scheduled, not yet run
    await hub.block_till_done()
    assert seen == [{"n": 1}]


async def test_plain_functions_run_in_the_executor(hub: Hub) -> None:
    threads: list[str] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def blocking(event: Event) -> None:
        threads.append(threading.current_thread().name)
        loop.call_soon_threadsafe(done.set)

    hub.bus.listen("slow", blocking)
    hub.bus.fire("slow")
    await asyncio.wait_for(done.wait(), 5)
    assert threads[0].startswith("hub-executor")


async def test_unsubscribe_stops_delivery(hub: Hub) -> None:
    seen: list[Event] = []
    unsub = hub.bus.listen("x", callback(seen.append))
    hub.bus.fire("x")
    unsub()
    unsub()  # a second call is harmless
    hub.bus.fire("x")
    assert len(seen) == 1
    assert hub.bus.listener_counts() == {}


async def test_listen_once_fires_a_single_time(hub: Hub) -> None:
    seen: list[Event] = []
    hub.bus.listen_once("boot", callback(seen.append))
    hub.bus.fire("boot")
    hub.bus.fire("boot")
    assert len(seen) == 1


async def test_match_all_sees_every_event_except_state_reported(hub: Hub) -> None:
    seen: list[str] = []
    hub.bus.listen(MATCH_ALL, callback(lambda e: seen.append(e.event_type)))
    hub.bus.fire("a")
    hub.bus.fire("b")
    hub.bus.fire("state_reported")
    assert seen == ["a", "b"]


async def test_match_all_listen_once_and_unsubscribe(hub: Hub) -> None:
    seen: list[str] = []
    hub.bus.listen_once(MATCH_ALL, callback(lambda e: seen.append(e.event_type)))
    hub.bus.fire("a")
    hub.bus.fire("b")
    assert seen == ["a"]


async def test_event_filter_decides_delivery(hub: Hub) -> None:
    seen: list[Event] = []
    hub.bus.listen(
        "power", callback(seen.append), event_filter=callback(lambda e: e.data["watts"] > 100)
    )
    hub.bus.fire("power", {"watts": 50})
    hub.bus.fire("power", {"watts": 150})
    assert [e.data["watts"] for e in seen] == [150]


async def test_a_failing_handler_does_not_stop_the_others(hub: Hub) -> None:
    seen: list[Event] = []
    errors: list[dict] = []
    loop = asyncio.get_running_loop()

    @callback
    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    hub.bus.listen("x", broken)
    hub.bus.listen("x", callback(seen.append))
    hub.bus.fire("x")
    assert len(seen) == 1
    assert errors == []
    assert loop is asyncio.get_running_loop()


async def test_a_failing_coroutine_handler_reaches_the_loop_exception_handler() -> None:
    errors: list[dict] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _l, ctx: errors.append(ctx))
    try:
        hub = Hub()

        async def broken(event: Event) -> None:
            raise RuntimeError("boom")

        hub.bus.listen("x", broken)
        hub.bus.fire("x")
        await asyncio.sleep(0.01)
        await hub.stop()
    finally:
        loop.set_exception_handler(previous)
    assert len(errors) == 1
    assert isinstance(errors[0]["exception"], RuntimeError)


async def test_event_serialises_like_home_assistant(hub: Hub) -> None:
    context = Context(user_id="abc")
    seen: list[Event] = []
    hub.bus.listen("x", callback(seen.append))
    hub.bus.fire("x", {"a": 1}, origin=EventOrigin.remote, context=context)
    data = seen[0].as_dict()
    assert list(data) == ["event_type", "data", "origin", "time_fired", "context"]
    assert data["origin"] == "REMOTE"
    assert data["context"] == {"id": context.id, "parent_id": None, "user_id": "abc"}
    assert data["time_fired"].endswith("+00:00")
    assert len(context.id) == 26


async def test_no_listener_means_no_event_is_built(hub: Hub) -> None:
    assert not hub.bus.has_listeners("nobody")
    hub.bus.fire("nobody", {"x": 1})  # must simply return
    unsub = hub.bus.listen(MATCH_ALL, callback(lambda e: None))
    assert hub.bus.has_listeners("nobody")
    assert not hub.bus.has_listeners("state_reported")
    unsub()


async def test_events_are_counted_per_type_even_without_listeners(hub: Hub) -> None:
    from hub.core.bus import MAX_COUNTED_EVENT_TYPES, OTHER_EVENT_TYPE

    hub.bus.fire("nobody_listens")
    hub.bus.fire("nobody_listens")
    hub.states.set("sensor.a", "1")
    assert hub.bus.counts["nobody_listens"] == 2
    assert hub.bus.counts["state_changed"] == 1
    for number in range(MAX_COUNTED_EVENT_TYPES + 5):
        hub.bus.fire(f"random_{number}")
    assert len(hub.bus.counts) == MAX_COUNTED_EVENT_TYPES + 1
    assert hub.bus.counts[OTHER_EVENT_TYPE] >= 5
