"""Attacks on a real hub: the api fixture's hub with users of every role, plus helpers.

`from_address(...)` opens an HTTP session whose connections come from another loopback
address (127.0.0.0/8 is all loopback on Linux), so "another client address" is a real peer
address, not a header anyone could write.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import aiohttp

from hub.cli import main
from tests.api.conftest import PASSWORD, Api, WsClient, api, wait_for  # noqa: F401 - the api fixture

__all__ = ["PASSWORD", "Api", "WsClient", "cli", "from_address", "wait_for"]


def from_address(address: str) -> aiohttp.ClientSession:
    """Return a session whose requests leave from `address` (e.g. 127.0.0.2)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))


def cli(*argv: str) -> tuple[int, str]:
    """Run the `hub` command in this process (as another process would) and return (code, output)."""
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        code = main(list(argv))
    return code, out.getvalue()


async def post_json(session: aiohttp.ClientSession, url: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
    """POST JSON and return (status, decoded JSON or text)."""
    async with session.post(url, json=body, **kwargs) as response:
        data = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, data
