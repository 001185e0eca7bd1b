"""Fixtures for recorder tests: an in-memory hub with a data dir, and every history backend."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hub.core.hub import Hub, HubConfig
from hub.recorder.backends.base import HistoryBackend
from hub.recorder.backends.sqlite import SQLiteBackend
from tests.servers import _NO_PROXY_OPENER, free_port
from tests.servers import _missing as missing

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.services),
    pytest.param("influxdb", marks=pytest.mark.services),
]


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """Yield an in-memory Hub with a data dir; unhandled loop errors fail the test."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    instance = Hub(HubConfig(data_dir=tmp_path / "data"))
    try:
        yield instance
        await instance.stop()
    finally:
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")


async def open_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> HistoryBackend:
    """Open a fresh, empty backend of a kind on the real server the tests use."""
    if kind == "sqlite":
        backend: HistoryBackend = SQLiteBackend(tmp_path / "history.db")
    elif kind == "postgresql":
        from hub.recorder.backends.postgres import PostgresBackend

        pg_url = request.getfixturevalue("pg_url")
        backend = PostgresBackend(pg_url)
    elif kind == "influxdb":
        import uuid

        from hub.recorder.backends.influx_v1 import InfluxV1Backend

        server = request.getfixturevalue("influxdb_server")
        if not server.running:
            server.start()
        backend = InfluxV1Backend(server.url, f"hub_{uuid.uuid4().hex[:10]}")
    else:
        raise AssertionError(kind)
    await backend.open()
    return backend


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryBackend]:
    """Yield each history backend, fresh and empty."""
    instance = await open_backend(request.param, request, tmp_path)
    try:
        yield instance
    finally:
        await instance.close()


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait until predicate() is true (awaiting it when it returns an awaitable)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


class VictoriaMetrics:
    """A real VictoriaMetrics server: it accepts InfluxDB's /api/v2/write."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.proc = subprocess.Popen(
            [binary, f"-httpListenAddr=127.0.0.1:{self.port}", f"-storageDataPath={folder}", "-search.latencyOffset=0s",
             "-loggerLevel=ERROR", "-dedup.minScrapeInterval=1ms"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with _NO_PROXY_OPENER.open(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("victoria-metrics did not start")
            time.sleep(0.05)

    def export(self, match: str) -> bytes:
        """Return the raw series matching a selector, as JSON lines."""
        with _NO_PROXY_OPENER.open(f"{self.url}/internal/force_flush", timeout=10):
            pass
        query = urllib.request.quote(match)
        with _NO_PROXY_OPENER.open(f"{self.url}/api/v1/export?match[]={query}", timeout=10) as response:
            return response.read()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Start VictoriaMetrics from the Debian package; skip when it is not installed."""
    binary = shutil.which("victoria-metrics")
    if binary is None:
        missing("victoria-metrics not installed: apt-get install victoria-metrics")
    server = VictoriaMetrics(binary, tmp_path_factory.mktemp("vm"))
    yield server
    server.close()
