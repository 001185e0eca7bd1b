"""Acknowledgements wait for the durability barrier, go out in order, and never for a failed write."""

from __future__ import annotations

import asyncio

import pytest

from integrations.mqtt.acks import DeferredAcks


@pytest.fixture(params=["one backend"])
def mqtt_client_backend(request: pytest.FixtureRequest) -> str:
    """No broker here: the client backends do not matter."""
    return str(request.param)


class Barrier:
    """The hub's durability barrier as the recorder gives it: one future per group commit."""

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[None]] = []

    def __call__(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future


async def test_nothing_is_acknowledged_before_the_spool_says_durable() -> None:
    barrier, sent = Barrier(), []
    acks = DeferredAcks(barrier, sent.append)
    acks.hold(1, 1)
    acks.hold(2, 1)  # handled in the same pass of the loop: one barrier for both
    await asyncio.sleep(0)
    assert len(barrier.futures) == 1 and sent == [] and acks.outstanding == 2
    acks.hold(3, 2)  # the next read: a barrier of its own
    await asyncio.sleep(0)
    assert len(barrier.futures) == 2
    barrier.futures[1].set_result(None)  # a later commit done first: order still holds
    await asyncio.sleep(0)
    assert sent == []
    barrier.futures[0].set_result(None)
    await asyncio.sleep(0)
    assert sent == [[(1, 1), (2, 1)], [(3, 2)]] and acks.outstanding == 0


async def test_a_failed_write_acknowledges_nothing_more_so_the_broker_resends() -> None:
    barrier, sent = Barrier(), []
    acks = DeferredAcks(barrier, sent.append)
    acks.hold(1, 1)
    await asyncio.sleep(0)
    acks.hold(2, 1)
    await asyncio.sleep(0)
    barrier.futures[0].set_exception(OSError(28, "No space left on device"))
    barrier.futures[1].set_result(None)
    await asyncio.sleep(0)
    acks.hold(3, 1)
    await asyncio.sleep(0)
    assert sent == []  # 1 was not durable: neither it nor anything after it is acknowledged


async def test_without_a_recorder_acknowledgements_go_at_once() -> None:
    sent: list[list[tuple[int, int]]] = []
    acks = DeferredAcks(lambda: None, sent.append)
    acks.hold(7, 1)
    await asyncio.sleep(0)
    assert sent == [[(7, 1)]]


async def test_homes_sharing_a_connection_are_acknowledged_in_arrival_order_each_after_its_own_spool() -> None:
    # One connection, two homes (integrations/mqtt/shared.py): a message waits for its own home's
    # barrier and for every message received before it (MQTT 3.1.1 4.6.0-2), whatever the home.
    home_a, home_b, sent = Barrier(), Barrier(), []
    acks = DeferredAcks(None, sent.append)
    acks.hold(1, 1, home_a)
    acks.hold(2, 1, home_b)
    acks.hold(3, 1, home_a)
    await asyncio.sleep(0)
    assert len(home_a.futures) == 2 and len(home_b.futures) == 1  # one barrier per run of one home's messages
    home_b.futures[0].set_result(None)  # b's spool has 2, a's has not 1: nothing may go before 1
    await asyncio.sleep(0)
    assert sent == []
    home_a.futures[0].set_result(None)
    await asyncio.sleep(0)
    assert sent == [[(1, 1)], [(2, 1)]]  # 3 waits for a's second barrier, though a's first is done
    home_a.futures[1].set_result(None)
    await asyncio.sleep(0)
    assert sent == [[(1, 1)], [(2, 1)], [(3, 1)]] and acks.outstanding == 0


async def test_a_stopping_homes_message_holds_every_later_acknowledgement() -> None:
    from integrations.mqtt.acks import BLOCKED

    home_a, sent = Barrier(), []
    acks = DeferredAcks(None, sent.append)
    acks.hold(1, 1, home_a)
    acks.hold(2, 1, BLOCKED)  # its home stops: the broker keeps it
    acks.hold(3, 1, home_a)
    acks.hold(4, 1)  # a topic of no home: at once, were nothing before it
    await asyncio.sleep(0)
    for future in home_a.futures:
        future.set_result(None)
    await asyncio.sleep(0)
    assert sent == [[(1, 1)]] and acks.blocked and acks.outstanding == 3
    await asyncio.wait_for(acks.drain(5), 1)  # a clean stop does not wait for what is blocked
    assert sent == [[(1, 1)]]


async def test_a_failed_barrier_of_a_shared_connection_asks_for_a_reconnect() -> None:
    home_a, home_b, sent, failed = Barrier(), Barrier(), [], []
    acks = DeferredAcks(None, sent.append, on_failed=lambda: failed.append(True))
    acks.hold(1, 1, home_a)
    acks.hold(2, 1, home_b)
    await asyncio.sleep(0)
    home_a.futures[0].set_exception(OSError(28, "No space left on device"))
    home_b.futures[0].set_result(None)
    await asyncio.sleep(0)
    assert sent == [] and failed == [True]  # b's message goes back to the broker with a's: redelivered
