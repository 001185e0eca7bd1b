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
