"""An alert storm sends one message per key per window; the next one says how many were held back."""

from __future__ import annotations

import json

from hub.core.hub import Hub
from tests.integrations.notify.conftest import Receiver, events


async def test_storm_sends_one_message_per_window_and_counts_the_rest(setup_notify, receiver: Receiver) -> None:
    hub: Hub = await setup_notify([{"name": "ops", "platform": "webhook", "url": receiver.url, "throttle": "5m"}])
    held = events(hub, "notify_suppressed")
    for _ in range(50):
        await hub.services.call("notify", "ops", {"title": "Overpower", "message": "Relay 1 at 3.6 kW"})
    await receiver.wait_for(1)
    await hub.block_till_done()
    assert len(receiver.requests) == 1
    assert len(held) == 49 and held[-1] == {"target": "ops", "title": "Overpower", "suppressed": 49}

    # A different message is a different key: it goes out at once.
    await hub.services.call("notify", "ops", {"title": "Overpower", "message": "Relay 2 at 3.7 kW"})
    await receiver.wait_for(2)

    clock = hub.clock
    await clock.advance(299)
    await hub.services.call("notify", "ops", {"title": "Overpower", "message": "Relay 1 at 3.6 kW"})
    await clock.advance(1)  # the window of the first message ends 300 s after it
    await hub.services.call("notify", "ops", {"title": "Overpower", "message": "Relay 1 at 3.6 kW"})
    await receiver.wait_for(3)
    body = json.loads(receiver.requests[2]["body"])
    assert body["suppressed"] == 50
    assert body["message"] == "Relay 1 at 3.6 kW"


async def test_throttle_key_from_data_groups_different_messages(setup_notify, receiver: Receiver) -> None:
    hub: Hub = await setup_notify([{"name": "phone", "platform": "ntfy", "url": receiver.url, "topic": "t"}])
    for watts in (3600, 3650, 3700):
        await hub.services.call("notify", "phone", {
            "message": f"Relay 1 at {watts} W", "data": {"throttle_key": "relay1_overpower"}})
    await hub.block_till_done()
    assert len(receiver.requests) == 1
    await hub.clock.advance(60)  # the default window
    await hub.services.call("notify", "phone", {"message": "Relay 1 at 3800 W", "data": {"throttle_key": "relay1_overpower"}})
    requests = await receiver.wait_for(2)
    assert requests[1]["body"].decode() == "Relay 1 at 3800 W\n\n(2 similar messages suppressed)"
    assert requests[1]["headers"]["X-Suppressed"] == "2"


async def test_throttle_zero_sends_every_message(setup_notify, receiver: Receiver) -> None:
    hub: Hub = await setup_notify([{"name": "ops", "platform": "webhook", "url": receiver.url, "throttle": 0}])
    for _ in range(3):
        await hub.services.call("notify", "ops", {"message": "same"})
    await receiver.wait_for(3)
