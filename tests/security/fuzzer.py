"""Run fuzz cases against a running hub and collect what went wrong (the CI suite's and bench/fuzz.py's).

What counts as wrong: an HTTP 5xx, a WebSocket `unknown_error` (the hub's 500), a log record
that carries a traceback, a dropped connection that the case did not ask for, and a
`get_states` from another client that took longer than a second while the cases ran.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.security import fuzz_cases

MAX_GET_STATES = 1.0  # seconds
WATCH_INTERVAL = 0.05  # seconds between the watcher's get_states


@dataclass
class Findings:
    """What a campaign found."""

    failures: list[str] = field(default_factory=list)
    cases: int = 0
    slowest_get_states: float = 0.0

    def add(self, what: str) -> None:
        if len(self.failures) < 50:
            self.failures.append(what)


class TracebackCatcher(logging.Handler):
    """Keep every log record that carries a traceback (an exception logged with exc_info)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.stack_info or "Traceback (most recent call last)" in record.getMessage():
            self.records.append(record)


@asynccontextmanager
async def watching(url: str, token: str, findings: Findings) -> AsyncIterator[None]:
    """Ask get_states from another client all along; record the slowest answer."""
    catcher = TracebackCatcher()
    logging.getLogger().addHandler(catcher)
    stop = asyncio.Event()

    async def watch() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/api/websocket") as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            msg_id = 0
            while not stop.is_set():
                msg_id += 1
                sent = time.perf_counter()
                await ws.send_json({"id": msg_id, "type": "get_states"})
                while True:
                    answer = await ws.receive_json(timeout=30)
                    if answer.get("id") == msg_id:
                        break
                took = time.perf_counter() - sent
                findings.slowest_get_states = max(findings.slowest_get_states, took)
                if took > MAX_GET_STATES:
                    findings.add(f"get_states took {took:.2f} s after {findings.cases} cases")
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), WATCH_INTERVAL)

    watcher = asyncio.create_task(watch())
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(watcher, 35)
        except Exception as err:  # noqa: BLE001 - the watcher's own end is a finding
            findings.add(f"the get_states watcher failed: {err!r}")
        logging.getLogger().removeHandler(catcher)
        for record in catcher.records[:10]:
            error = record.exc_info[1] if record.exc_info else None
            where = ""
            if error is not None and error.__traceback__ is not None:
                frame = error.__traceback__
                while frame.tb_next is not None:
                    frame = frame.tb_next
                where = f" at {frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}"
            findings.add(f"traceback in the log: {record.name}: {record.getMessage()[:200]}: {error!r}"[:400] + where)


async def fuzz_mqtt(publish: Callable[[str, bytes], Any], prefix: str, seed: int, count: int,
                    findings: Findings, settle: Callable[[], Any] | None = None) -> None:
    """Publish `count` discovery configs and state payloads."""
    cases = fuzz_cases.mqtt_cases(random.Random(seed), prefix)
    for n in range(count):
        case = next(cases)
        await publish(case.topic, case.payload)
        findings.cases += 1
        if settle is not None and n % 200 == 199:
            await settle()
    if settle is not None:
        await settle()


async def fuzz_ws(url: str, token: str, seed: int, count: int, findings: Findings) -> None:
    """Send `count` frames on an authenticated connection (reconnecting when the hub closes it)."""
    frames = fuzz_cases.ws_messages(random.Random(seed))
    sent = 0
    async with aiohttp.ClientSession() as session:
        while sent < count:
            async with session.ws_connect(f"{url}/api/websocket", max_msg_size=0) as ws:
                await ws.receive_json()
                await ws.send_json({"type": "auth", "access_token": token})
                answer = await ws.receive()
                if answer.type is not aiohttp.WSMsgType.TEXT or answer.json().get("type") != "auth_ok":
                    findings.add(f"could not authenticate again after {sent} frames: {answer.type!r} {answer.data!r}")
                    return
                reader = asyncio.create_task(_read_ws(ws, findings))
                try:
                    while sent < count and not ws.closed:
                        frame = next(frames)
                        try:
                            await ws.send_str(frame if isinstance(frame, str) else frame.decode("utf-8", "replace"))
                        except (ConnectionResetError, aiohttp.ClientConnectionError):
                            break
                        sent += 1
                        findings.cases += 1
                        if sent % 50 == 0:
                            await asyncio.sleep(0)  # let the answers come
                    # Wait for the answers to what was sent: a ping answered means the rest was too.
                    if not ws.closed:
                        await ws.send_json({"id": 10**12 + sent, "type": "ping"})
                        with suppress(TimeoutError):
                            await asyncio.wait_for(_closed_or_pong(reader), 10)
                finally:
                    reader.cancel()
                    with suppress(asyncio.CancelledError):
                        await reader


async def _closed_or_pong(reader: asyncio.Task[None]) -> None:
    while not reader.done() and not getattr(reader, "pong", False):
        await asyncio.sleep(0.01)


async def _read_ws(ws: aiohttp.ClientWebSocketResponse, findings: Findings) -> None:
    task = asyncio.current_task()
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            continue
        data = msg.json()
        for item in data if isinstance(data, list) else [data]:
            if item.get("type") == "pong" and item.get("id", 0) >= 10**12:
                task.pong = True  # type: ignore[union-attr]
            error = item.get("error") or {}
            if isinstance(error, dict) and error.get("code") == "unknown_error":
                findings.add(f"WebSocket unknown_error for message {item.get('id')}: {error.get('message')}")


async def fuzz_http(url: str, tokens: list[str | None], seed: int, count: int, findings: Findings) -> None:
    """Send `count` requests, each with one of the tokens (None: without)."""
    rng = random.Random(seed)
    cases = fuzz_cases.http_cases(rng)
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        for _ in range(count):
            case = next(cases)
            headers = dict(case.headers)
            token = rng.choice(tokens)
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            try:
                async with session.request(case.method, f"{url}{case.path}", headers=headers, data=case.body,
                                           allow_redirects=False) as response:
                    await response.read()
                    if response.status >= 500:
                        findings.add(f"{case.method} {case.path[:120]} ({headers.get('Content-Type')!r}, "
                                     f"{case.body[:60]!r}): {response.status}")
            except aiohttp.ClientResponseError as err:
                # The hub answered something the client could not parse (its 400 for a request
                # line over 8 KiB closes the connection); only a 5xx is a finding.
                if err.status >= 500:
                    findings.add(f"{case.method} {case.path[:120]}: {err.status}")
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as err:
                findings.add(f"{case.method} {case.path[:120]}: connection failed: {str(err)[:200]}")
            except ValueError:
                pass  # the client refused to send it (an invalid URL or header): nothing reached the hub
            findings.cases += 1
