"""A hub with the notify integration, and real HTTP and SMTP servers that record what arrives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope

from hub.core.bus import callback
from hub.core.clock import ManualClock
from hub.core.hub import Hub
from integrations import notify
from integrations.notify import persistent

START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Receiver:
    """An HTTP server that records each request and answers with the statuses queued in `replies`."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)  # statuses for the next requests; then 200
    hang: asyncio.Event | None = None  # set: requests wait for it (a server that never answers)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with self.arrived:
            self.requests.append({"path": request.path, "headers": dict(request.headers), "body": body})
            self.arrived.notify_all()
        if self.hang is not None:
            await self.hang.wait()
        status = self.replies.pop(0) if self.replies else 200
        return web.Response(status=status, text="ok" if status < 400 else "broken")

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.requests) >= count), timeout)
        return self.requests


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """Serve POST /{tail} on a free loopback port."""
    state = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        if state.hang is not None:
            state.hang.set()
        await runner.cleanup()


@dataclass
class Mailbox:
    """What an SMTP server received."""

    host: str = "127.0.0.1"
    port: int = 0
    envelopes: list[Envelope] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        async with self.arrived:
            self.envelopes.append(envelope)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Envelope]:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.envelopes) >= count), timeout)
        return self.envelopes


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    """An aiosmtpd SMTP server on this test's event loop, on a free loopback port."""
    box = Mailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="mail.test"), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    try:
        yield box
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    """An in-memory hub on a manual clock; unhandled loop errors fail the test."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    instance = Hub()
    instance.clock = ManualClock(START)  # type: ignore[attr-defined]
    try:
        yield instance
        await instance.stop()
    finally:
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")


@pytest.fixture
def setup_notify(hub: Hub) -> Callable[[list[dict[str, Any]]], Any]:
    """Set notify up with the given targets (validated as configuration.yaml's would be)."""

    async def setup(targets: list[dict[str, Any]]) -> Hub:
        await persistent.setup_integration(hub, None)
        await notify.setup_integration(hub, notify.CONFIG_SCHEMA(targets))
        return hub

    return setup


def events(hub: Hub, event_type: str) -> list[dict[str, Any]]:
    """Collect the data of every event of a type fired from now on."""
    seen: list[dict[str, Any]] = []

    @callback
    def record(event: Any) -> None:
        seen.append(dict(event.data))

    hub.bus.listen(event_type, record)
    return seen
